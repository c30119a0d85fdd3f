// createWechatLogin(options): the Vue plugin a host installs after Pinia. Its options live in the
// Pinia store (no module-level state: two apps keep their own), every server URL is
// `${apiBase}${basePath}/…`, and the optional guard sends a logged-out person to the login page.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { createPinia } from 'pinia';
import { createApp } from 'vue';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createWechatLogin, loadedCopies, LOGIN_PAGE, useWluAuthStore } from '../uni_modules/wlu-wxlogin';
import { AGREED_KEY } from '../uni_modules/wlu-wxlogin/store/auth';
import { future, installUni, user } from './support/uni-stub';

type Interceptor = { invoke: (args: { url?: string }) => boolean };
let stub: ReturnType<typeof installUni> & { addInterceptor?: unknown };
let interceptors: Map<string, Interceptor>;

beforeEach(() => {
  vi.stubEnv('UNI_PLATFORM', 'mp-weixin');
  stub = installUni((req) => ({ statusCode: 200, data: { token: `tok:${req.url}`, expiresAt: future(), user: user(), isNewUser: false } }));
  interceptors = new Map();
  (stub as unknown as { addInterceptor: unknown }).addInterceptor = vi.fn((api: string, hooks: Interceptor) => void interceptors.set(api, hooks));
});
afterEach(() => {
  vi.unstubAllEnvs();
  vi.unstubAllGlobals();
});

function host(options: Parameters<typeof createWechatLogin>[0]) {
  const app = createApp({});
  const pinia = createPinia();
  app.use(pinia);
  app.use(createWechatLogin(options));
  return { app, auth: useWluAuthStore(pinia) };
}

describe('createWechatLogin', () => {
  it('Should refuse to install before Pinia, saying what to do', () => {
    const app = createApp({});
    expect(() => app.use(createWechatLogin({ apiBase: 'https://api.example.test' }))).toThrow('wlu-wxlogin: install pinia first — app.use(createPinia()) before app.use(createWechatLogin(...))');
  });

  it('Should build every server URL from apiBase and basePath, per app (two apps, two configurations)', async () => {
    const one = host({ apiBase: 'https://one.example.test/', basePath: '/auth/' });
    const two = host({ apiBase: 'https://two.example.test' });
    expect(one.auth.config).toMatchObject({ apiBase: 'https://one.example.test', basePath: '/auth' });
    expect(two.auth.config).toMatchObject({ apiBase: 'https://two.example.test', basePath: '/api/auth' });

    await one.auth.login();
    await two.auth.login();
    expect(one.auth.token).toBe('tok:https://one.example.test/auth/mini/login');
    expect(two.auth.token).toBe('tok:https://two.example.test/api/auth/mini/login');
    expect(one.auth.assetUrl('/auth/avatars/a.jpg')).toBe('https://one.example.test/auth/avatars/a.jpg');

    // a second mini-program of the same account logs in through its own door name
    const shop = host({ apiBase: 'https://one.example.test', miniProgram: 'mini-shop' });
    await shop.auth.login();
    expect(shop.auth.token).toBe('tok:https://one.example.test/api/auth/mini-shop/login');
  });

  it('Should take the H5 doors, the PC form and the pages to return to from the options', () => {
    const { auth } = host({ apiBase: 'https://api.example.test', doors: 'oa,oa-follow', pcLogin: 'own-qr', after: '/pages/me/index', appName: '示例' });
    expect(auth.config.doors).toEqual({ web: false, oa: true, oaFollow: true });
    expect(auth.config).toMatchObject({ pcLogin: 'own-qr', after: '/pages/me/index', home: '/pages/index/index', appName: '示例' });
    expect(auth.config.agreement.userPage).toBe('/uni_modules/wlu-wxlogin/pages/legal/index?doc=user');
    expect(host({ apiBase: 'x', doors: ['web'] }).auth.config.doors).toEqual({ web: true, oa: false, oaFollow: false });
  });

  it('Should install no guard unless pages are listed', () => {
    host({ apiBase: 'https://api.example.test' });
    expect(interceptors.size).toBe(0);
  });

  it('Should open the login page instead of a guarded page while logged out, and let it through once logged in', async () => {
    stub.storage.set(AGREED_KEY, true);
    const { auth } = host({ apiBase: 'https://api.example.test', guard: { pages: ['/pages/orders/index'] } });
    expect([...interceptors.keys()].sort()).toEqual(['navigateTo', 'reLaunch', 'redirectTo', 'switchTab']);
    const navigateTo = interceptors.get('navigateTo')!;

    expect(navigateTo.invoke({ url: '/pages/index/index' })).toBe(true); // not listed
    expect(navigateTo.invoke({ url: '/pages/orders/index?id=7' })).toBe(false);
    expect(stub.navigateTo).toHaveBeenCalledWith({ url: `${LOGIN_PAGE}?next=${encodeURIComponent('/pages/orders/index')}` });

    await auth.login();
    expect(interceptors.get('redirectTo')!.invoke({ url: 'pages/orders/index' })).toBe(true);
  });

  it('Should count one copy of itself in development, and warn when a second one is loaded (the npm name imported beside the link)', () => {
    expect(loadedCopies()).toBe(1);
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    host({ apiBase: 'https://api.example.test' });
    expect(warn).not.toHaveBeenCalled();
    const registry = (globalThis as unknown as Record<symbol, Set<unknown>>)[Symbol.for('wlu-wxlogin.copies')]!;
    const second = Symbol('a second copy');
    registry.add(second);
    try {
      host({ apiBase: 'https://api.example.test' });
      expect(warn).toHaveBeenCalledWith("wlu-wxlogin: loaded twice — import it as '@/uni_modules/wlu-wxlogin', never by its npm name (two copies split the login state) (2 copies)");
    } finally {
      registry.delete(second);
      warn.mockRestore();
    }
  });
});

describe('client/ is a host like any other', () => {
  const HOST = resolve(import.meta.dirname, '..');
  const sources = (dir: string): string[] =>
    readdirSync(dir).flatMap((name) => {
      const path = join(dir, name);
      if (name === 'tests' || name === 'uni_modules' || name === 'node_modules') return [];
      return statSync(path).isDirectory() ? sources(path) : /\.(ts|vue)$/.test(name) ? [path] : [];
    });

  it("Should import the module only through its entry '@/uni_modules/wlu-wxlogin' (no private files, never the npm name)", () => {
    const imports = sources(HOST).flatMap((file) =>
      [...readFileSync(file, 'utf8').matchAll(/from\s+['"]([^'"]+)['"]/g)].map((m) => ({ file: relative(HOST, file), spec: m[1]! })),
    );
    const moduleImports = imports.filter((i) => i.spec.includes('wlu-wxlogin'));
    expect(moduleImports.map((i) => i.file).sort()).toEqual(['main.ts', 'pages/index/index.vue']);
    expect(moduleImports.filter((i) => i.spec !== '@/uni_modules/wlu-wxlogin')).toEqual([]);
    // nothing of the login reaches into the host's own folders any more
    expect(imports.filter((i) => /(^|\/)(stores|api|platform)\//.test(i.spec))).toEqual([]);
  });
});
