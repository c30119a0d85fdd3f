// The request transport and the auth store's session handling with a stubbed `uni`: token restore,
// single-flight re-login (owned by the store), no loops, timeouts, the error envelope in Chinese,
// blocked accounts, login on demand, and the sliding expiry learned from GET /api/auth/me.
import { createPinia, setActivePinia } from 'pinia';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError, rawRequest, type Method } from '../uni_modules/wlu-wxlogin/request/transport';
import { AGREED_KEY, AUTH_STORAGE_KEY, useWluAuthStore } from '../uni_modules/wlu-wxlogin/store/auth';
import { envelope, future, installUni, user, type Handler } from './support/uni-stub';

/** An authenticated call through the store's withSession (what a host's own request wrapper does). */
function request<T>({ method = 'GET', path, data, auth = true }: { method?: Method; path: string; data?: unknown; auth?: boolean }): Promise<T> {
  if (!auth) return rawRequest<T>({ method, url: BASE + path, data });
  return useWluAuthStore().withSession((token) => rawRequest<T>({ method, url: BASE + path, data, token }));
}
const fetchMe = () => useWluAuthStore().fetchMe();
const updateMe = (patch: { nickname?: string }) => useWluAuthStore().updateMe(patch);
/** A new app: a new Pinia with the plugin's options (apiBase = the test API). */
function freshApp(): void {
  setActivePinia(createPinia());
  useWluAuthStore().configure({ apiBase: BASE });
}
const ensureSession = () => useWluAuthStore().ensureSession();

/** A person who ticked the agreement and logged in on this device before: silent re-login allowed. */
function installAgreed(handler: Handler) {
  const stub = installUni(handler);
  stub.storage.set(AGREED_KEY, true);
  return stub;
}

const BASE = 'https://api.example.test';

/** A tiny API: login hands out tok-1, tok-2, …; /api/auth/me accepts what `valid` allows. */
function api(options: { valid?: (token: string | undefined) => boolean; login?: Handler } = {}) {
  const counts = { login: 0, me: 0 };
  let issued = 0;
  const handler: Handler = async (req) => {
    const path = req.url.replace(BASE, '');
    if (path === '/api/auth/mini/login') {
      counts.login++;
      if (options.login) return options.login(req);
      await new Promise((r) => setTimeout(r, 5));
      return { statusCode: 200, data: { token: `tok-${++issued}`, expiresAt: future(), user: user(), isNewUser: false } };
    }
    if (path === '/api/auth/me') {
      counts.me++;
      const token = req.header.authorization?.replace(/^Bearer /, '');
      const ok = options.valid ? options.valid(token) : token?.startsWith('tok-');
      return ok ? { statusCode: 200, data: { user: user() } } : { statusCode: 401, data: envelope('unauthorized', '登录已失效，请重新登录') };
    }
    return { statusCode: 404, data: envelope('not_found') };
  };
  return { handler, counts };
}

beforeEach(() => {
  vi.stubEnv('UNI_PLATFORM', 'mp-weixin');
});
afterEach(() => {
  vi.unstubAllEnvs();
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

describe('session restore', () => {
  it('Should restore the token from storage at start and send it as a Bearer header', async () => {
    const { handler, counts } = api({ valid: (t) => t === 'saved-token' });
    const uniStub = installAgreed(handler);
    uniStub.storage.set(AUTH_STORAGE_KEY, { token: 'saved-token', expiresAt: future(), user: user('u-saved') });
    freshApp();

    expect(useWluAuthStore().token).toBe('saved-token');
    expect(useWluAuthStore().user?.id).toBe('u-saved');
    await fetchMe();
    expect(uniStub.request.mock.calls[0]![0].header.authorization).toBe('Bearer saved-token');
    expect(uniStub.request.mock.calls[0]![0].url).toBe(`${BASE}/api/auth/me`);
    expect(uniStub.login).not.toHaveBeenCalled();
    expect(counts.login).toBe(0);
  });

  it('Should drop an expired stored session and log in silently instead', async () => {
    const { handler, counts } = api();
    const uniStub = installAgreed(handler);
    uniStub.storage.set(AUTH_STORAGE_KEY, { token: 'old', expiresAt: new Date(Date.now() - 1000).toISOString(), user: user() });
    freshApp();

    expect(useWluAuthStore().token).toBeNull();
    await fetchMe();
    expect(counts.login).toBe(1);
    expect((uniStub.storage.get(AUTH_STORAGE_KEY) as { token: string }).token).toBe('tok-1');
  });
});

describe('single-flight ensureSession()', () => {
  it('Should log in exactly once when 10 parallel requests get 401', async () => {
    const { handler, counts } = api({ valid: (t) => t === 'tok-1' });
    const uniStub = installAgreed(handler);
    uniStub.storage.set(AUTH_STORAGE_KEY, { token: 'revoked', expiresAt: future(), user: user() });
    freshApp();

    const results = await Promise.all(Array.from({ length: 10 }, () => request<{ user: unknown }>({ path: '/api/auth/me' })));

    expect(results).toHaveLength(10);
    expect(uniStub.login).toHaveBeenCalledTimes(1);
    expect(counts.login).toBe(1);
    expect(counts.me).toBe(20); // each request: one 401, one retry
    expect(useWluAuthStore().token).toBe('tok-1');
  });

  it('Should log in once for 10 parallel requests made before any session exists', async () => {
    const { handler, counts } = api();
    const uniStub = installAgreed(handler);
    freshApp();

    const tokens = await Promise.all(Array.from({ length: 10 }, () => ensureSession()));
    expect(new Set(tokens)).toEqual(new Set(['tok-1']));
    expect(uniStub.login).toHaveBeenCalledTimes(1);
    expect(counts.login).toBe(1);
  });

  it('Should not loop when the server keeps answering 401', async () => {
    const { handler, counts } = api({ valid: () => false });
    const uniStub = installAgreed(handler);
    uniStub.storage.set(AUTH_STORAGE_KEY, { token: 'revoked', expiresAt: future(), user: user() });
    freshApp();

    const results = await Promise.allSettled(Array.from({ length: 10 }, () => request({ path: '/api/auth/me' })));

    expect(results.every((r) => r.status === 'rejected' && (r.reason as ApiError).code === 'unauthorized')).toBe(true);
    expect((results[0] as PromiseRejectedResult).reason.message).toBe('登录已失效，请重新登录');
    expect(counts.login).toBe(1); // one re-login for all ten
    expect(counts.me).toBe(20); // one retry each, then the error
    // later calls try again (once each), they do not spin
    await expect(request({ path: '/api/auth/me' })).rejects.toMatchObject({ code: 'unauthorized' });
    expect(counts.login).toBe(2);
    expect(counts.me).toBe(22);
  });

  it('Should not loop when the login itself keeps failing', async () => {
    const { handler, counts } = api({ login: () => ({ statusCode: 503, data: envelope('wechat_unavailable', '微信服务暂时不可用，请稍后再试') }) });
    const uniStub = installAgreed(handler);
    freshApp();

    const results = await Promise.allSettled(Array.from({ length: 10 }, () => request({ path: '/api/auth/me' })));

    expect(results.every((r) => r.status === 'rejected' && r.reason.message === '微信服务暂时不可用，请稍后再试')).toBe(true);
    expect(counts.login).toBe(1);
    expect(uniStub.login).toHaveBeenCalledTimes(1);
    expect(counts.me).toBe(0);
  });

  it('Should retry once with a fresh code on code_already_used, then give up', async () => {
    const { handler, counts } = api({ login: () => ({ statusCode: 409, data: envelope('code_already_used', '登录凭证已使用，请重新获取') }) });
    const uniStub = installAgreed(handler);
    freshApp();

    await expect(ensureSession()).rejects.toMatchObject({ code: 'code_already_used' });
    expect(uniStub.login).toHaveBeenCalledTimes(2);
    expect(counts.login).toBe(2);
    const codes = uniStub.request.mock.calls.map((c) => (c[0].data as { code: string }).code);
    expect(codes).toEqual(['code-1', 'code-2']);
  });

  it('Should succeed on the retry after code_invalid', async () => {
    let first = true;
    const { handler, counts } = api({
      login: () => {
        if (first) {
          first = false;
          return { statusCode: 401, data: envelope('code_invalid') };
        }
        return { statusCode: 200, data: { token: 'tok-fresh', expiresAt: future(), user: user(), isNewUser: true } };
      },
    });
    installAgreed(handler);
    freshApp();

    await expect(ensureSession()).resolves.toBe('tok-fresh');
    expect(counts.login).toBe(2);
  });

  it('Should send H5 to the login page instead of logging in', async () => {
    vi.stubEnv('UNI_PLATFORM', 'h5');
    const { handler, counts } = api();
    const uniStub = installAgreed(handler);
    freshApp();

    await expect(request({ path: '/api/auth/me' })).rejects.toMatchObject({ code: 'login_required', status: 401, message: '请先登录' });
    expect(uniStub.navigateTo).toHaveBeenCalledWith({ url: '/uni_modules/wlu-wxlogin/pages/login/index' });
    expect(uniStub.login).not.toHaveBeenCalled();
    expect(counts.login + counts.me).toBe(0);
  });

  it('Should never log in silently someone who has not agreed and logged in on this device (login on demand)', async () => {
    const { handler, counts } = api();
    const uniStub = installUni(handler); // no AGREED_KEY
    freshApp();

    await expect(request({ path: '/api/auth/me' })).rejects.toMatchObject({ code: 'login_required' });
    expect(uniStub.navigateTo).toHaveBeenCalledWith({ url: '/uni_modules/wlu-wxlogin/pages/login/index' });
    expect(uniStub.login).not.toHaveBeenCalled();
    expect(counts.login + counts.me).toBe(0);

    // the tap on 微信登录 (agreement ticked) logs in and remembers the agreement
    await useWluAuthStore().login();
    expect(uniStub.storage.get(AGREED_KEY)).toBe(true);
    expect(uniStub.login).toHaveBeenCalledTimes(1);
  });
});

describe('blocked accounts (WeChat 40226)', () => {
  it('Should show 账号存在风险，暂时无法登录 and never retry silently', async () => {
    const { handler, counts } = api({ login: () => ({ statusCode: 403, data: envelope('wechat_user_blocked', '账号存在风险，暂时无法登录') }) });
    const uniStub = installAgreed(handler);
    freshApp();

    await expect(request({ path: '/api/auth/me' })).rejects.toMatchObject({ code: 'wechat_user_blocked', message: '账号存在风险，暂时无法登录' });
    await expect(request({ path: '/api/auth/me' })).rejects.toMatchObject({ code: 'wechat_user_blocked' });
    await expect(ensureSession()).rejects.toMatchObject({ code: 'wechat_user_blocked' });
    expect(counts.login).toBe(1);
    expect(uniStub.login).toHaveBeenCalledTimes(1);

    // only the person tapping 微信登录 again tries again
    await expect(useWluAuthStore().login()).rejects.toMatchObject({ code: 'wechat_user_blocked' });
    expect(counts.login).toBe(2);
  });
});

describe('errors and timeouts', () => {
  it('Should turn a request that never answers into 网络不可用，请重试 after the timeout', async () => {
    const uniStub = installUni(() => 'hang');
    freshApp();
    vi.useFakeTimers();

    const pending = request({ path: '/api/auth/health', auth: false });
    const outcome = expect(pending).rejects.toMatchObject({ code: 'network_error', status: 0, message: '网络不可用，请重试' });
    await vi.advanceTimersByTimeAsync(9_999);
    expect(uniStub.aborted).toBe(0);
    await vi.advanceTimersByTimeAsync(2);
    await outcome;
    expect(uniStub.aborted).toBe(1);
    expect(uniStub.request.mock.calls[0]![0].timeout).toBe(10_000);
  });

  it('Should turn request:fail into 网络不可用，请重试', async () => {
    installUni(() => 'network_error');
    freshApp();
    await expect(request({ path: '/api/auth/health', auth: false })).rejects.toMatchObject({ code: 'network_error', message: '网络不可用，请重试' });
  });

  it('Should surface the envelope message and code', async () => {
    installUni(() => ({ statusCode: 429, data: envelope('wechat_rate_limited', '请求过于频繁，请稍后再试') }));
    freshApp();
    const error = await request({ path: '/api/auth/mini/login', method: 'POST', data: { code: 'x' }, auth: false }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ code: 'wechat_rate_limited', status: 429, message: '请求过于频繁，请稍后再试' });
  });

  it('Should give a Chinese message for a 5xx without an envelope', async () => {
    installUni(() => ({ statusCode: 502, data: '<html>Bad Gateway</html>' }));
    freshApp();
    await expect(request({ path: '/api/auth/health', auth: false })).rejects.toMatchObject({ code: 'bad_response', status: 502, message: '服务暂时不可用，请稍后再试' });
  });

  it('Should send JSON with a content-type only when there is a body', async () => {
    const uniStub = installUni(() => ({ statusCode: 204 }));
    freshApp();
    await expect(request({ path: '/api/x', method: 'PUT', data: { nickname: '小明' }, auth: false })).resolves.toBeUndefined();
    await request({ path: '/api/y', auth: false });
    expect(uniStub.request.mock.calls[0]![0].header).toEqual({ 'content-type': 'application/json' });
    expect(uniStub.request.mock.calls[1]![0].header).toEqual({});
  });
});

describe('methods wx.request has', () => {
  it('Should save the profile with PUT, never PATCH (wx.request: request:fail method is invalid)', async () => {
    const uniStub = installUni(() => ({ statusCode: 200, data: { user: { ...user(), nickname: '小明' } } }));
    uniStub.storage.set(AUTH_STORAGE_KEY, { token: 'tok-x', expiresAt: future(), user: user() });
    freshApp();
    await updateMe({ nickname: '小明' });
    expect(uniStub.request.mock.calls.map((c) => c[0].method)).toEqual(['PUT']);
    expect(uniStub.request.mock.calls[0]![0].url).toBe(`${BASE}/api/auth/me`);
  });

  it('Should not admit PATCH in the Method type', () => {
    const allowed: Method[] = ['OPTIONS', 'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'TRACE', 'CONNECT'];
    // @ts-expect-error PATCH is not a wx.request method (npm run typecheck:client fails if it is admitted)
    const patch: Method = 'PATCH';
    expect(allowed).not.toContain(patch);
  });
});

describe('sliding sessions', () => {
  it('Should take the current expiry from GET /api/auth/me and persist it', async () => {
    const soon = new Date(Date.now() + 60_000).toISOString();
    const later = new Date(Date.now() + 30 * 24 * 3600_000).toISOString();
    const uniStub = installUni(() => ({ statusCode: 200, data: { user: user('u-slide'), expiresAt: later } }));
    uniStub.storage.set(AUTH_STORAGE_KEY, { token: 'tok-s', expiresAt: soon, user: user('u-slide') });
    freshApp();
    expect(useWluAuthStore().expiresAt).toBe(soon);

    await fetchMe();
    expect(useWluAuthStore().expiresAt).toBe(later);
    expect((uniStub.storage.get(AUTH_STORAGE_KEY) as { expiresAt: string }).expiresAt).toBe(later);
  });
});

describe('Retry-After', () => {
  it('Should carry the seconds of a 429\'s Retry-After on the ApiError (issue 18 §5: the PC page waits that long)', async () => {
    installUni(async () => ({ statusCode: 429, data: envelope('too_many_requests', '操作过于频繁，请稍后再试'), header: { 'Retry-After': '17' } }));
    const error = await rawRequest({ method: 'GET', url: `${BASE}/api/auth/pc/status` }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).code).toBe('too_many_requests');
    expect((error as ApiError).retryAfter).toBe(17);
    installUni(async () => ({ statusCode: 400, data: envelope('invalid_request') }));
    expect(((await rawRequest({ method: 'GET', url: `${BASE}/x` }).catch((e: unknown) => e)) as ApiError).retryAfter).toBeUndefined();
  });
});
