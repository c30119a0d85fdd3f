/**
 * Runs the COMPILED mp-weixin release bundle (dist/test/mp-weixin, built with TEST_API_BASE) in Node with Tencent's
 * miniprogram-simulate (official wcc WXML compiler + exparser) under vitest's jsdom.
 * The `wx` given to the bundle is a fake as strict as WeChat, whose `login` takes codes from the
 * WeChat simulator and whose `request` reaches the running API over HTTP — the real page against
 * the real server. Rules it enforces (each has a test in fake-wx.test.ts):
 * - wx.request refuses methods WeChat refuses (`request:fail method is invalid`: no PATCH);
 * - only the API base the bundle was built with resolves (`url not in domain list` otherwise):
 *   no rewriting of every /api/ URL;
 * - privacy-gated APIs/components wait for consent (`__usePrivacyCheck__`): the page's
 *   onNeedPrivacyAuthorization listener, resolve() after the agree button; errno 104 on refusal;
 *   forever without a listener;
 * - checkSession can fail; storage keeps serialised copies; uploadFile sends the file it is
 *   given (unknown path → fail); navigation really navigates (app.json pages and tabBar rules).
 *
 * Each test file loads the bundle once (the simulate package and uni's vendor.js keep state in
 * the require cache): one scenario per test file.
 */
import { request as httpRequest } from 'node:http';
import { createRequire } from 'node:module';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { vi } from 'vitest';
import { TEST_API_BASE } from './build.js';

const require = createRequire(import.meta.url);

export interface WxCallOptions {
  success?: (res: any) => void;
  fail?: (err: any) => void;
  complete?: (res: any) => void;
  [key: string]: any;
}

/** The methods wx.request has (wechat-api-facts.md, toolchain notes): no PATCH. */
export const WX_REQUEST_METHODS = ['OPTIONS', 'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'TRACE', 'CONNECT'] as const;

/** Behaviour the test controls. Change it through this object: uni copies wx's functions once. */
export interface FakeWxBehaviour {
  /** the API base the bundle was BUILT with (TEST_API_BASE): the only API origin that resolves */
  apiBase: string;
  /** where apiBase resolves to (the test's API), like a hosts entry; the path is kept */
  apiUrl: string;
  /** further origins that resolve to themselves (e.g. the simulator in a dev build) */
  otherOrigins: string[];
  /** wx.login: a code for the simulated user, or a failure. */
  login: () => Promise<string>;
  /** wx.checkSession: is WeChat's login state (session_key) still valid? */
  checkSession: () => boolean;
  getUserProfile: (opts: WxCallOptions) => void;
  /** the base library the fake phone runs */
  sdkVersion: string;
  privacyContractName: string;
}

type PrivacyOutcome = 'agreed' | 'refused';

export interface FakeWx {
  wx: Record<string, any>;
  behaviour: FakeWxBehaviour;
  /** what wx storage holds (JSON text per key, like the real one) */
  storage: {
    has(key: string): boolean;
    get(key: string): unknown;
    set(key: string, value: unknown): void;
  };
  /** temporary files on the fake phone (chooseAvatar results…): path → bytes */
  files: Map<string, Buffer>;
  /** puts bytes at a new temporary path (what chooseAvatar hands out) */
  addTempFile(bytes: Buffer, ext?: string): string;
  /** the person's answer to the privacy guide: null until they agree (or forever, if they never do) */
  privacy: { agreed: boolean; agreeButtonTapped: boolean; prompts: string[] };
  /**
   * A privacy-gated API / component is used: resolves at once after consent; otherwise asks the
   * page's onNeedPrivacyAuthorization listener and waits for its resolve() — with no listener it
   * never settles (as on a phone). 'refused' after resolve({ event: 'disagree' }).
   */
  privacyGate(api: string): Promise<PrivacyOutcome>;
  calls: {
    request: { method: string; url: string; header: Record<string, string>; data: unknown }[];
    /** requests WeChat refused before sending (bad method, origin not configured) */
    refused: { api: string; url: string; errMsg: string }[];
    uploads: { url: string; filePath: string; bytes: Buffer }[];
    navigation: { api: string; url: string }[];
    login: number;
    checkSession: number;
    getUserProfile: { duringTap: boolean }[];
    preloadAssets: string[];
  };
  /** the listener registered with wx.onNeedPrivacyAuthorization, if any */
  privacyListener: ((resolve: (r: unknown) => void, info: unknown) => void) | null;
  /** set by loadPage: performs wx.navigateTo/redirectTo/reLaunch/switchTab/navigateBack */
  router: ((api: string, opts: WxCallOptions) => Promise<void>) | null;
  /** wx.request / wx.uploadFile calls sent and not yet answered */
  inflight: number;
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

let tempFiles = 0;

export function createFakeWx(initial: Partial<FakeWxBehaviour> & { apiUrl: string; login: () => Promise<string> }): FakeWx {
  const behaviour: FakeWxBehaviour = {
    apiBase: TEST_API_BASE,
    otherOrigins: [],
    checkSession: () => true,
    getUserProfile: (opts) => done(opts, false, { errMsg: 'getUserProfile:fail auth deny' }),
    sdkVersion: '3.5.0',
    privacyContractName: '《用户隐私保护指引》',
    ...initial,
  };
  const store = new Map<string, string>();
  const files = new Map<string, Buffer>();
  const fake: FakeWx = {
    wx: {},
    behaviour,
    // wx storage keeps serialised copies: a later change to the object given is not stored
    storage: {
      has: (key) => store.has(key),
      get: (key) => (store.has(key) ? JSON.parse(store.get(key)!) : undefined),
      set: (key, value) => void store.set(key, JSON.stringify(value)),
    },
    files,
    addTempFile(bytes, ext = 'png') {
      const path = `wxfile://tmp_${Date.now().toString(36)}_${++tempFiles}.${ext}`;
      files.set(path, Buffer.from(bytes));
      return path;
    },
    privacy: { agreed: false, agreeButtonTapped: false, prompts: [] },
    privacyGate(api) {
      if (fake.privacy.agreed) return Promise.resolve('agreed');
      fake.privacy.prompts.push(api);
      const listener = fake.privacyListener;
      if (!listener) return new Promise<PrivacyOutcome>(() => {}); // WeChat waits for a listener that never comes
      return new Promise<PrivacyOutcome>((resolve) => {
        let settled = false;
        listener(
          (result: unknown) => {
            if (settled) return;
            settled = true;
            const { event } = (result ?? {}) as { event?: string };
            // 'agree' counts only after the agreePrivacyAuthorization button was tapped
            if (event === 'agree' && fake.privacy.agreeButtonTapped) {
              fake.privacy.agreed = true;
              resolve('agreed');
            } else resolve('refused');
          },
          { referrer: api },
        );
      });
    },
    calls: { request: [], refused: [], uploads: [], navigation: [], login: 0, checkSession: 0, getUserProfile: [], preloadAssets: [] },
    privacyListener: null,
    router: null,
    inflight: 0,
  };
  const sysInfo = () => ({
    platform: 'devtools', system: 'iOS 17.0', brand: 'devtools', model: 'iPhone 15', pixelRatio: 3,
    windowWidth: 375, windowHeight: 812, screenWidth: 375, screenHeight: 812, statusBarHeight: 44,
    language: 'zh_CN', version: '8.0.50', SDKVersion: behaviour.sdkVersion, theme: 'light', safeArea: { top: 44, bottom: 778, left: 0, right: 375, width: 375, height: 734 },
    enableDebug: false, deviceOrientation: 'portrait', hostName: 'WeChat',
  });
  const navigate = (api: string) => (opts: WxCallOptions = {}) => {
    fake.calls.navigation.push({ api, url: opts.url });
    if (!fake.router) {
      setTimeout(() => done(opts, false, { errMsg: `${api}:fail no app loaded` }), 0);
      return;
    }
    fake.router(api, opts).then(
      () => done(opts, true, { errMsg: `${api}:ok` }),
      (error: Error) => done(opts, false, { errMsg: `${api}:fail ${error.message}` }),
    );
  };

  /** The URL a request really goes to: only the configured API base (and listed origins) resolve. */
  function resolveUrl(raw: string): URL | null {
    let target: URL;
    try {
      target = new URL(raw);
    } catch {
      return null;
    }
    if (target.origin === new URL(behaviour.apiBase).origin) return new URL(target.pathname + target.search, behaviour.apiUrl);
    if (behaviour.otherOrigins.some((o) => new URL(o).origin === target.origin)) return target;
    return null;
  }

  function refuse(opts: WxCallOptions, api: string, errMsg: string): { abort(): void } {
    fake.calls.refused.push({ api, url: String(opts.url), errMsg });
    setTimeout(() => done(opts, false, { errMsg }), 0);
    return { abort() {} };
  }

  /** Sends a wx.request / wx.uploadFile to the API over HTTP (node:http: no jsdom globals). */
  function forward(opts: WxCallOptions, upload: boolean): { abort(): void } {
    const api = upload ? 'uploadFile' : 'request';
    const method = upload ? 'POST' : String(opts.method ?? 'GET').toUpperCase();
    if (!upload && !(WX_REQUEST_METHODS as readonly string[]).includes(method)) return refuse(opts, api, 'request:fail method is invalid');
    const url = resolveUrl(String(opts.url));
    if (!url) return refuse(opts, api, `${api}:fail url not in domain list`);
    const header: Record<string, string> = {};
    for (const [k, v] of Object.entries(opts.header ?? {})) header[k.toLowerCase()] = String(v);
    fake.calls.request.push({ method, url: url.pathname, header, data: opts.data });
    let body: Buffer | undefined;
    if (upload) {
      const file = files.get(String(opts.filePath));
      if (!file) return refuse(opts, api, 'uploadFile:fail file not found');
      fake.calls.uploads.push({ url: url.pathname, filePath: opts.filePath, bytes: file });
      const boundary = `----wxfake${Date.now()}`;
      const filename = String(opts.filePath).split('/').pop();
      body = Buffer.concat([
        Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="${opts.name}"; filename="${filename}"\r\ncontent-type: application/octet-stream\r\n\r\n`),
        file,
        Buffer.from(`\r\n--${boundary}--\r\n`),
      ]);
      header['content-type'] = `multipart/form-data; boundary=${boundary}`;
    } else if (method !== 'GET' && opts.data !== undefined) {
      body = Buffer.from(typeof opts.data === 'string' ? opts.data : JSON.stringify(opts.data));
      header['content-type'] ??= 'application/json';
    }
    if (body) header['content-length'] = String(body.length);
    let finished = false;
    fake.inflight++;
    const finish = (ok: boolean, res: any) => {
      if (finished) return;
      finished = true;
      fake.inflight--;
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
    checkSession(opts: WxCallOptions) {
      fake.calls.checkSession++;
      const ok = behaviour.checkSession();
      setTimeout(() => done(opts, ok, { errMsg: ok ? 'checkSession:ok' : 'checkSession:fail session time out, need relogin' }), 0);
    },
    getUserProfile(opts: WxCallOptions) {
      fake.calls.getUserProfile.push({ duringTap: dispatching > 0 });
      // a privacy API: with __usePrivacyCheck__ it waits for consent
      void fake.privacyGate('getUserProfile').then((outcome) => {
        if (outcome === 'agreed') behaviour.getUserProfile(opts);
        else done(opts, false, { errno: 104, errMsg: 'getUserProfile:fail privacy permission is not authorized' });
      });
    },
    // privacy
    getPrivacySetting(opts: WxCallOptions) {
      setTimeout(() => done(opts, true, { needAuthorization: !fake.privacy.agreed, privacyContractName: behaviour.privacyContractName, errMsg: 'getPrivacySetting:ok' }), 0);
    },
    onNeedPrivacyAuthorization(listener: FakeWx['privacyListener']) {
      fake.privacyListener = listener;
    },
    openPrivacyContract: (opts: WxCallOptions) => done(opts, true, { errMsg: 'openPrivacyContract:ok' }),
    requirePrivacyAuthorize(opts: WxCallOptions) {
      void fake.privacyGate('requirePrivacyAuthorize').then((outcome) =>
        outcome === 'agreed' ? done(opts, true, { errMsg: 'requirePrivacyAuthorize:ok' }) : done(opts, false, { errno: 104, errMsg: 'requirePrivacyAuthorize:fail privacy permission is not authorized' }),
      );
    },
    // network
    request(opts: WxCallOptions) {
      return { ...forward(opts, false), onHeadersReceived() {}, offHeadersReceived() {} };
    },
    uploadFile(opts: WxCallOptions) {
      return { ...forward(opts, true), onProgressUpdate() {} };
    },
    // storage: serialised copies (JSON), like WeChat's
    getStorageSync: (key: string) => (store.has(key) ? JSON.parse(store.get(key)!) : ''),
    setStorageSync: (key: string, value: unknown) => void store.set(key, JSON.stringify(value)),
    removeStorageSync: (key: string) => void store.delete(key),
    clearStorageSync: () => store.clear(),
    getStorageInfoSync: () => ({ keys: [...store.keys()], currentSize: 0, limitSize: 10240 }),
    // navigation & UI
    reLaunch: navigate('reLaunch'),
    redirectTo: navigate('redirectTo'),
    navigateTo: navigate('navigateTo'),
    switchTab: navigate('switchTab'),
    navigateBack: navigate('navigateBack'),
    setNavigationBarTitle: (opts: WxCallOptions) => done(opts, true, { errMsg: 'setNavigationBarTitle:ok' }),
    showToast: (opts: WxCallOptions) => done(opts, true, { errMsg: 'showToast:ok' }),
    hideToast: () => {},
    showLoading: (opts: WxCallOptions) => done(opts, true, { errMsg: 'showLoading:ok' }),
    hideLoading: () => {},
    showModal: (opts: WxCallOptions) => done(opts, true, { confirm: true, cancel: false, errMsg: 'showModal:ok' }),
    compressImage(opts: WxCallOptions) {
      const bytes = files.get(String(opts.src));
      if (!bytes) return done(opts, false, { errMsg: 'compressImage:fail file not found' });
      done(opts, true, { tempFilePath: fake.addTempFile(bytes, 'jpg'), errMsg: 'compressImage:ok' });
    },
    // environment the uni runtime reads
    getSystemInfoSync: () => sysInfo(),
    getSystemInfo: (opts: WxCallOptions) => done(opts, true, { ...sysInfo(), errMsg: 'getSystemInfo:ok' }),
    getWindowInfo: () => sysInfo(),
    getDeviceInfo: () => sysInfo(),
    getAppBaseInfo: () => sysInfo(),
    getSystemSetting: () => ({}),
    getAppAuthorizeSetting: () => ({}),
    getAccountInfoSync: () => ({ miniProgram: { appId: 'wxd0c0ffee00000001', envVersion: 'develop', version: '' } }),
    getLaunchOptionsSync: () => ({ path: 'pages/index/index', query: {}, scene: 1001, referrerInfo: {} }),
    getEnterOptionsSync: () => ({ path: 'pages/index/index', query: {}, scene: 1001, referrerInfo: {} }),
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
  /** this page's route, e.g. uni_modules/wlu-wxlogin/pages/login/index */
  route: string;
  /** j-component root of the page */
  page: any;
  /** the page's rendered text (custom components included) */
  text(): string;
  /** first node matching a selector, searching inside custom components too */
  find(selector: string): any | null;
  /** dispatches an event on the node like a real tap, and waits for the event's microtask */
  tap(selector: string, event?: string, detail?: Record<string, unknown>): Promise<void>;
  /**
   * A privacy-gated component (open-type chooseAvatar / getPhoneNumber, input type=nickname):
   * waits for consent as WeChat does, then dispatches `event` with `detail`; after a refusal it
   * dispatches WeChat's failure (errno 104). Without a listener on the page it never settles.
   */
  tapGated(selector: string, event: string, detail: Record<string, unknown>, api: string): Promise<void>;
  /** taps the popup's agreePrivacyAuthorization button (WeChat records the consent on that tap) */
  agreePrivacy(): Promise<void>;
  /** the app this page belongs to */
  app: MpApp;
}

export interface MpApp {
  /** the page on top of the stack */
  current(): LoadedPage;
  /** routes of the page stack, bottom first */
  routes(): string[];
  /** waits until `route` is on top, and returns it */
  waitFor(route: string, timeout?: number): Promise<LoadedPage>;
}

interface AppJson {
  pages: string[];
  /** subpackages (the login module's pages: root uni_modules/wlu-wxlogin/pages) */
  subPackages?: { root: string; pages: string[] }[];
  tabBar?: { list: { pagePath: string }[] };
}

/** Every page route of app.json: the main package's and each subpackage's (root + page). */
function routesOf(app: AppJson): Set<string> {
  const sub = (app.subPackages ?? []).flatMap((p) => p.pages.map((page) => `${p.root.replace(/\/+$/, '')}/${page}`));
  return new Set([...app.pages, ...sub]);
}

function parseUrl(url: string): { route: string; query: Record<string, string> } {
  const [path = '', search = ''] = String(url).split('?');
  const query: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(search)) query[k] = v;
  return { route: path.replace(/^\//, ''), query };
}

/**
 * Launches the app like WeChat: installs the fake `wx` and the App/Page/getApp globals, loads
 * app.js + common/vendor.js, renders `route` with the official WXML compiler and runs
 * onLoad/onShow. Navigation then really navigates: wx.navigateTo/redirectTo/reLaunch/switchTab/
 * navigateBack render the target page (or fail as WeChat does: unknown page, navigateTo a tab
 * page, switchTab to a page that is not a tab), with onHide/onUnload/onShow on the way.
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
  const appJson = JSON.parse(readFileSync(join(distDir, 'app.json'), 'utf8')) as AppJson;
  const tabs = new Set((appJson.tabBar?.list ?? []).map((t) => t.pagePath));
  const routes = routesOf(appJson);

  const g = globalThis as any;
  // miniprogram-simulate installed its own wx api object: keep it, ours wins.
  g.wx = Object.assign(g.wx ?? {}, fake.wx);
  let appOptions: any = null;
  g.App = (options: any) => {
    appOptions = options;
  };
  g.getApp = () => appOptions;
  g.Page = (options: any) => g.Component(options);
  const simulateComponent = g.__simulateComponent ?? g.Component;
  g.__simulateComponent = simulateComponent;
  let loadingRoute = route;
  // uni-app treats an instance with `route` as a page: give the page its route like WeChat does.
  g.Component = (options: any) => {
    if (options?.methods?.onLoad) {
      const pageRoute = loadingRoute;
      const created = options.lifetimes?.created ?? options.created;
      const withRoute = function (this: any, ...args: unknown[]) {
        this.route = pageRoute;
        this.__route__ = pageRoute;
        return created?.apply(this, args);
      };
      if (options.lifetimes?.created) options.lifetimes.created = withRoute;
      options.created = withRoute;
    }
    return simulateComponent(options);
  };
  const stack: LoadedPage[] = [];
  g.getCurrentPages = () => stack.map((p) => p.page.instance);

  const app: MpApp = {
    current: () => stack[stack.length - 1]!,
    routes: () => stack.map((p) => p.route),
    async waitFor(target, timeout = 10_000) {
      await vi.waitFor(
        () => {
          if (app.current()?.route !== target) throw new Error(`on ${app.routes().join(' > ')}, waiting for ${target}`);
        },
        { timeout },
      );
      return app.current();
    },
  };

  async function render(pageRoute: string, pageQuery: Record<string, string>): Promise<LoadedPage> {
    if (!routes.has(pageRoute)) throw new Error(`page "${pageRoute}" is not found`);
    loadingRoute = pageRoute;
    const id = simulate.load(join(distDir, pageRoute), { rootPath: distDir, compiler: 'official' });
    const page = simulate.render(id);
    page.attach(document.createElement('parent-wrapper'));
    const view = wrap(pageRoute, page);
    stack.push(view);
    page.instance.onLoad?.(pageQuery);
    page.instance.onShow?.();
    await vi.waitFor(() => {
      if (!page.instance.$vm) throw new Error('page not mounted');
    });
    // the page as a person first sees it: its start-up requests answered (the login page's
    // GET /doors decides its buttons), waiting at most 3 s (a test may hold an answer back; a loaded CI machine answers late)
    await vi.waitFor(() => {
      if (fake.inflight > 0) throw new Error('requests in flight');
    }, { timeout: 3_000, interval: 10 }).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 0));
    return view;
  }

  function unload(view: LoadedPage): void {
    view.page.instance.onUnload?.();
    try {
      view.page.detach();
    } catch {
      // already detached
    }
  }

  fake.router = async (api, opts) => {
    if (api === 'navigateBack') {
      const delta = Math.max(1, Number(opts.delta ?? 1));
      if (stack.length <= 1) throw new Error('cannot navigate back at first page.');
      for (let i = 0; i < delta && stack.length > 1; i++) unload(stack.pop()!);
      app.current().page.instance.onShow?.();
      return;
    }
    const { route: target, query: targetQuery } = parseUrl(opts.url);
    if (!routes.has(target)) throw new Error(`page "${target}" is not found`);
    if ((api === 'navigateTo' || api === 'redirectTo') && tabs.has(target)) throw new Error('can not navigateTo a tabbar page');
    if (api === 'switchTab' && !tabs.has(target)) throw new Error('can not switch to no-tabBar page');
    if (api === 'navigateTo') {
      app.current()?.page.instance.onHide?.();
    } else if (api === 'redirectTo') {
      unload(stack.pop()!);
    } else {
      while (stack.length) unload(stack.pop()!);
    }
    await render(target, api === 'switchTab' ? {} : targetQuery);
  };

  function wrap(pageRoute: string, page: any): LoadedPage {
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
    async function tap(selector: string, event = 'tap', detail: Record<string, unknown> = {}) {
      // like a person, wait for it to show (the login page shows its buttons once GET /doors answered)
      let node = find(selector);
      if (!node) {
        await vi.waitFor(() => {
          if (!find(selector)) throw new Error(`no node matches ${selector} on ${pageRoute}`);
        }, { timeout: 5_000 }).catch(() => undefined);
        node = find(selector);
      }
      if (!node) throw new Error(`no node matches ${selector} on ${pageRoute}`);
      node.dispatchEvent(event, { detail });
      await new Promise((r) => setTimeout(r, 0));
    }
    return {
      route: pageRoute,
      page,
      app,
      text: () => (page.dom.textContent ?? '').replace(/\s+/g, ' ').trim(),
      find,
      tap,
      async tapGated(selector, event, detail, api) {
        await vi.waitFor(() => {
          if (!find(selector)) throw new Error(`no node matches ${selector} on ${pageRoute}`);
        }, { timeout: 5_000 }).catch(() => undefined);
        if (!find(selector)) throw new Error(`no node matches ${selector} on ${pageRoute}`);
        const outcome = await fake.privacyGate(api);
        if (outcome === 'agreed') await tap(selector, event, detail);
        else await tap(selector, event, { errMsg: `${api}:fail privacy permission is not authorized`, errno: 104 });
      },
      async agreePrivacy() {
        fake.privacy.agreeButtonTapped = true;
        await tap('#privacy-agree', 'agreeprivacyauthorization');
      },
    };
  }

  // a fresh app + vendor.js for this launch (WeChat starts each launch from scratch)
  for (const key of Object.keys(require.cache)) if (key.startsWith(distDir)) delete require.cache[key];
  require(join(distDir, 'app.js'));
  if (!appOptions) throw new Error('app.js did not call App()');
  appOptions.onLaunch?.call(appOptions, { path: route, query, scene: 1001, referrerInfo: {} });
  appOptions.onShow?.call(appOptions, { path: route, query, scene: 1001, referrerInfo: {} });
  return render(route, query);
}
