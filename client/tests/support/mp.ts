/**
 * Runs the COMPILED mp-weixin bundle (dist/build/mp-weixin) in Node with Tencent's
 * miniprogram-simulate (official wcc WXML compiler + exparser) under vitest's jsdom.
 * The `wx` given to the bundle is a fake whose `login` takes codes from the WeChat simulator and
 * whose `request` reaches the running API over HTTP — the real page against the real server.
 *
 * Each test file loads the bundle once (the simulate package and uni's vendor.js keep state in
 * the require cache): one scenario per test file.
 */
import { request as httpRequest } from 'node:http';
import { createRequire } from 'node:module';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { vi } from 'vitest';

const require = createRequire(import.meta.url);

export interface WxCallOptions {
  success?: (res: any) => void;
  fail?: (err: any) => void;
  complete?: (res: any) => void;
  [key: string]: any;
}

/** Behaviour the test controls. Change it through this object: uni copies wx's functions once. */
export interface FakeWxBehaviour {
  /** origin every wx.request / uploadFile for /api/… is sent to (the path is kept); other URLs go where they say. */
  apiUrl: string;
  /** wx.login: a code for the simulated user, or a failure. */
  login: () => Promise<string>;
  getUserProfile: (opts: WxCallOptions) => void;
  getPrivacySetting: () => { needAuthorization: boolean; privacyContractName: string };
}

export interface FakeWx {
  wx: Record<string, any>;
  behaviour: FakeWxBehaviour;
  storage: Map<string, unknown>;
  calls: {
    request: { method: string; url: string; header: Record<string, string>; data: unknown }[];
    navigation: { api: string; url: string }[];
    login: number;
    getUserProfile: { duringTap: boolean }[];
    preloadAssets: string[];
  };
  /** the listener registered with wx.onNeedPrivacyAuthorization, if any */
  privacyListener: ((resolve: (r: unknown) => void, info: unknown) => void) | null;
}

function done(opts: WxCallOptions, ok: boolean, res: any): void {
  if (ok) opts.success?.(res);
  else opts.fail?.(res);
  opts.complete?.(res);
}

/** set while exparser dispatches an event: "was this called synchronously inside the tap?" */
let dispatching = 0;

/** A JSON request over node:http (the test process runs under jsdom). */
export function httpJson(method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = httpRequest(
      url,
      { method, headers: { ...headers, ...(payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = text ? JSON.parse(text) : null;
          } catch {
            // not JSON
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

export const postJson = (url: string, body: unknown, headers?: Record<string, string>) => httpJson('POST', url, body, headers);

/** Simulator-backed wx.login for `user`. */
export function simulatorLogin(simUrl: string, appid: string, user: string): () => Promise<string> {
  return async () => {
    const res = await postJson(`${simUrl}/__sim/mini/code`, { appid, user });
    if (res.status !== 200) throw new Error(`simulator: ${res.status}`);
    return (res.body as { code: string }).code;
  };
}

export function createFakeWx(initial: Partial<FakeWxBehaviour> & { apiUrl: string; login: () => Promise<string> }): FakeWx {
  const behaviour: FakeWxBehaviour = {
    getUserProfile: (opts) => done(opts, false, { errMsg: 'getUserProfile:fail auth deny' }),
    getPrivacySetting: () => ({ needAuthorization: false, privacyContractName: '《用户隐私保护指引》' }),
    ...initial,
  };
  const storage = new Map<string, unknown>();
  const fake: FakeWx = {
    wx: {},
    behaviour,
    storage,
    calls: { request: [], navigation: [], login: 0, getUserProfile: [], preloadAssets: [] },
    privacyListener: null,
  };
  const sysInfo = {
    platform: 'devtools', system: 'iOS 17.0', brand: 'devtools', model: 'iPhone 15', pixelRatio: 3,
    windowWidth: 375, windowHeight: 812, screenWidth: 375, screenHeight: 812, statusBarHeight: 44,
    language: 'zh_CN', version: '8.0.50', SDKVersion: '3.5.0', theme: 'light', safeArea: { top: 44, bottom: 778, left: 0, right: 375, width: 375, height: 734 },
    enableDebug: false, deviceOrientation: 'portrait', hostName: 'WeChat',
  };
  const navigate = (api: string) => (opts: WxCallOptions) => {
    fake.calls.navigation.push({ api, url: opts.url });
    done(opts, true, { errMsg: `${api}:ok` });
  };

  /** Sends a wx.request / wx.uploadFile to the API over HTTP (node:http: no jsdom globals). */
  function forward(opts: WxCallOptions, upload: boolean): { abort(): void } {
    const target = new URL(opts.url);
    const url = target.pathname.startsWith('/api/') ? new URL(target.pathname + target.search, behaviour.apiUrl) : target;
    const header: Record<string, string> = {};
    for (const [k, v] of Object.entries(opts.header ?? {})) header[k.toLowerCase()] = String(v);
    const method = upload ? 'POST' : String(opts.method ?? 'GET').toUpperCase();
    fake.calls.request.push({ method, url: target.pathname, header, data: opts.data });
    const api = upload ? 'uploadFile' : 'request';
    let body: Buffer | undefined;
    if (upload) {
      const boundary = `----wxfake${Date.now()}`;
      // a valid 1×1 PNG: the API re-encodes uploads and refuses non-images
      const png = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');
      body = Buffer.concat([
        Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="${opts.name}"; filename="avatar.png"\r\ncontent-type: image/png\r\n\r\n`),
        png,
        Buffer.from(`\r\n--${boundary}--\r\n`),
      ]);
      header['content-type'] = `multipart/form-data; boundary=${boundary}`;
    } else if (method !== 'GET' && opts.data !== undefined) {
      body = Buffer.from(typeof opts.data === 'string' ? opts.data : JSON.stringify(opts.data));
      header['content-type'] ??= 'application/json';
    }
    if (body) header['content-length'] = String(body.length);
    let finished = false;
    const finish = (ok: boolean, res: any) => {
      if (finished) return;
      finished = true;
      done(opts, ok, res);
    };
    const req = httpRequest(url, { method, headers: header, timeout: opts.timeout ?? 60_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let data: unknown = text;
        if (!upload && opts.dataType !== 'text') {
          try {
            data = text ? JSON.parse(text) : '';
          } catch {
            data = text;
          }
        }
        finish(true, { statusCode: res.statusCode, data, header: res.headers, errMsg: `${api}:ok` });
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (error: NodeJS.ErrnoException) => finish(false, { errMsg: `${api}:fail ${error.code ?? error.message}`, errno: 600001 }));
    req.end(body);
    return { abort: () => req.destroy(new Error('abort')) };
  }

  Object.assign(fake.wx, {
    // login & user
    login(opts: WxCallOptions) {
      fake.calls.login++;
      behaviour.login().then(
        (code) => done(opts, true, { code, errMsg: 'login:ok' }),
        (error) => done(opts, false, { errMsg: `login:fail ${(error as Error).message}` }),
      );
    },
    checkSession: (opts: WxCallOptions) => done(opts, true, { errMsg: 'checkSession:ok' }),
    getUserProfile(opts: WxCallOptions) {
      fake.calls.getUserProfile.push({ duringTap: dispatching > 0 });
      behaviour.getUserProfile(opts);
    },
    // privacy
    getPrivacySetting(opts: WxCallOptions) {
      done(opts, true, { ...behaviour.getPrivacySetting(), errMsg: 'getPrivacySetting:ok' });
    },
    onNeedPrivacyAuthorization(listener: FakeWx['privacyListener']) {
      fake.privacyListener = listener;
    },
    openPrivacyContract: (opts: WxCallOptions) => done(opts, true, { errMsg: 'openPrivacyContract:ok' }),
    requirePrivacyAuthorize: (opts: WxCallOptions) => done(opts, true, { errMsg: 'requirePrivacyAuthorize:ok' }),
    // network
    request(opts: WxCallOptions) {
      return { ...forward(opts, false), onHeadersReceived() {}, offHeadersReceived() {} };
    },
    uploadFile(opts: WxCallOptions) {
      return { ...forward(opts, true), onProgressUpdate() {} };
    },
    // storage
    getStorageSync: (key: string) => (storage.has(key) ? storage.get(key) : ''),
    setStorageSync: (key: string, value: unknown) => void storage.set(key, value),
    removeStorageSync: (key: string) => void storage.delete(key),
    clearStorageSync: () => storage.clear(),
    getStorageInfoSync: () => ({ keys: [...storage.keys()], currentSize: 0, limitSize: 10240 }),
    // navigation & UI
    reLaunch: navigate('reLaunch'),
    redirectTo: navigate('redirectTo'),
    navigateTo: navigate('navigateTo'),
    navigateBack: (opts: WxCallOptions = {}) => done(opts, true, { errMsg: 'navigateBack:ok' }),
    showToast: (opts: WxCallOptions) => done(opts, true, { errMsg: 'showToast:ok' }),
    hideToast: () => {},
    showLoading: (opts: WxCallOptions) => done(opts, true, { errMsg: 'showLoading:ok' }),
    hideLoading: () => {},
    showModal: (opts: WxCallOptions) => done(opts, true, { confirm: true, cancel: false, errMsg: 'showModal:ok' }),
    compressImage: (opts: WxCallOptions) => done(opts, true, { tempFilePath: opts.src, errMsg: 'compressImage:ok' }),
    // environment the uni runtime reads
    getSystemInfoSync: () => sysInfo,
    getSystemInfo: (opts: WxCallOptions) => done(opts, true, { ...sysInfo, errMsg: 'getSystemInfo:ok' }),
    getWindowInfo: () => sysInfo,
    getDeviceInfo: () => sysInfo,
    getAppBaseInfo: () => sysInfo,
    getSystemSetting: () => ({}),
    getAppAuthorizeSetting: () => ({}),
    getAccountInfoSync: () => ({ miniProgram: { appId: 'wxd0c0ffee00000001', envVersion: 'develop', version: '' } }),
    getLaunchOptionsSync: () => ({ path: 'pages/login/index', query: {}, scene: 1001, referrerInfo: {} }),
    getEnterOptionsSync: () => ({ path: 'pages/login/index', query: {}, scene: 1001, referrerInfo: {} }),
    canIUse: () => true,
    preloadAssets(opts: WxCallOptions = {}) {
      fake.calls.preloadAssets.push(...(opts.data ?? []).map((asset: { src: string }) => asset.src));
      done(opts, true, { errMsg: 'preloadAssets:ok' });
    },
    onAppShow() {},
    onAppHide() {},
    offAppShow() {},
    offAppHide() {},
    onError() {},
    onUnhandledRejection() {},
    onPageNotFound() {},
    onThemeChange() {},
    onLocaleChange() {},
    getRealtimeLogManager: () => ({ info() {}, warn() {}, error() {}, setFilterMsg() {}, addFilterMsg() {} }),
    getLogManager: () => ({ log() {}, info() {}, warn() {}, debug() {} }),
    nextTick: (fn: () => void) => setTimeout(fn, 0),
  });
  return fake;
}

/**
 * A private copy of the bundle to run: the repository's package.json says "type": "module",
 * while WeChat runs these files as CommonJS — the copy gets its own {"type":"commonjs"}
 * (never written into dist/, which is what gets uploaded). Also isolates from rebuilds.
 */
export function runnableCopy(distDir: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'mp-weixin-run-'));
  cpSync(distDir, dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), '{"type":"commonjs"}\n');
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface LoadedPage {
  /** j-component root of the page */
  page: any;
  /** the page's rendered text (custom components included) */
  text(): string;
  /** first node matching a selector, searching inside custom components too */
  find(selector: string): any | null;
  /** dispatches an event on the node like a real tap, and waits for the event's microtask */
  tap(selector: string, event?: string, detail?: Record<string, unknown>): Promise<void>;
}

/**
 * Installs the fake `wx` and the App/Page/getApp globals, loads app.js + common/vendor.js and
 * renders `route` with the official WXML compiler, then runs onLoad/onShow like WeChat does.
 */
export async function loadPage(distDir: string, route: string, fake: FakeWx, query: Record<string, string> = {}): Promise<LoadedPage> {
  const simulate = require('miniprogram-simulate');
  const exparser = require(require.resolve('miniprogram-exparser', { paths: [require.resolve('j-component')] }));
  if (!exparser.Event.__wrappedForTapCheck) {
    const original = exparser.Event.dispatchEvent;
    exparser.Event.dispatchEvent = function (...args: unknown[]) {
      dispatching++;
      try {
        return original.apply(this, args);
      } finally {
        dispatching--;
      }
    };
    exparser.Event.__wrappedForTapCheck = true;
  }

  const g = globalThis as any;
  // miniprogram-simulate installed its own wx api object: keep it, ours wins.
  g.wx = Object.assign(g.wx ?? {}, fake.wx);
  let appOptions: any = null;
  g.App = (options: any) => {
    appOptions = options;
  };
  g.getApp = () => appOptions;
  g.Page = (options: any) => g.Component(options);
  const simulateComponent = g.Component;
  // uni-app treats an instance with `route` as a page: give the page its route like WeChat does.
  g.Component = (options: any) => {
    if (options?.methods?.onLoad) {
      const created = options.lifetimes?.created ?? options.created;
      const withRoute = function (this: any, ...args: unknown[]) {
        this.route = route;
        this.__route__ = route;
        return created?.apply(this, args);
      };
      if (options.lifetimes?.created) options.lifetimes.created = withRoute;
      options.created = withRoute;
    }
    return simulateComponent(options);
  };
  let current: any = null;
  g.getCurrentPages = () => (current ? [current] : []);

  // a fresh app + vendor.js for this load (WeChat starts each launch from scratch)
  for (const key of Object.keys(require.cache)) if (key.startsWith(distDir)) delete require.cache[key];
  require(join(distDir, 'app.js'));
  if (!appOptions) throw new Error('app.js did not call App()');
  appOptions.onLaunch?.call(appOptions, { path: route, query, scene: 1001, referrerInfo: {} });
  appOptions.onShow?.call(appOptions, { path: route, query, scene: 1001, referrerInfo: {} });

  const id = simulate.load(join(distDir, route), { rootPath: distDir, compiler: 'official' });
  const page = simulate.render(id);
  page.attach(document.createElement('parent-wrapper'));
  current = page.instance;
  page.instance.onLoad?.(query);
  page.instance.onShow?.();
  await vi.waitFor(() => {
    if (!page.instance.$vm) throw new Error('page not mounted');
  });

  /** querySelector through every shadow tree (custom components such as privacy-popup). */
  function find(selector: string): any | null {
    // j-component's Component class (the page itself is a RootComponent, which would build anew)
    const Wrapper = Object.getPrototypeOf(page.constructor);
    const hosts: any[] = [];
    const walk = (node: any) => {
      if (node.shadowRoot) {
        hosts.push(node);
        walk(node.shadowRoot);
      }
      for (const child of node.childNodes ?? []) walk(child);
    };
    walk(page._exparserNode);
    for (const host of hosts) {
      const hit = host.shadowRoot.querySelector(selector);
      if (hit) return hit.__componentNode__ ?? new Wrapper(hit);
    }
    return null;
  }

  return {
    page,
    text: () => (page.dom.textContent ?? '').replace(/\s+/g, ' ').trim(),
    find,
    async tap(selector, event = 'tap', detail = {}) {
      const node = find(selector);
      if (!node) throw new Error(`no node matches ${selector}`);
      node.dispatchEvent(event, { detail });
      await new Promise((r) => setTimeout(r, 0));
    },
  };
}
