// One failure policy at the HTTP edge (issue 20 "Also in this change"; http/failure.ts): the mapping is
// toAppError, and ONE helper picks the log level for onError, the browser doors' redirect, the
// official account's push endpoint and the phone's PC-login pages — a bug at `error` (internal_error,
// 500), a failure on our side or WeChat's at `warn` with its cause, the client's own at `info` with
// its code. Each edge keeps its own form (JSON, redirect, HTML) and the codes and statuses it had.
import { describe, expect, it } from 'vitest';
import type { Logger } from '../packages/server/src/log.js';
import { EmbeddedStore } from '../packages/server/src/store/embedded.js';
import { StoreUnavailableError } from '../packages/server/src/store/types.js';
import { metered } from './support/records.js';
import { testServices } from './support/services.js';

interface Line {
  level: string;
  event: string;
  [field: string]: unknown;
}

/** An app whose store fails on demand: a known failure (store_unavailable) or a bug (a plain Error). */
function harness() {
  const lines: Line[] = [];
  const logger: Logger = { log: (level, event, fields) => lines.push({ level, event, ...fields }) };
  const fail: { with: 'store' | 'bug' | null } = { with: null };
  const inner = new EmbeddedStore({ dir: null });
  const store = metered(inner, () => {
    if (fail.with === 'store') throw new StoreUnavailableError('database down');
    if (fail.with === 'bug') throw new TypeError('cannot read properties of undefined');
    return undefined;
  });
  const services = testServices(
    { store, logger },
    {
      WECHAT_WEB_APPID: 'wxd0c0ffee00000002',
      WECHAT_WEB_SECRET: 'a'.repeat(32),
      WECHAT_OA_APPID: 'wxd0c0ffee00000003',
      WECHAT_OA_SECRET: 'b'.repeat(32),
      WECHAT_OA_TOKEN: 'policyToken1',
      WECHAT_OA_MESSAGE_MODE: 'plain',
      WECHAT_OPEN_BASE: 'http://127.0.0.1:1',
    },
  );
  const lineOf = (event: string) => lines.find((l) => l.event === event);
  return { services, lines, fail, lineOf };
}

describe('onError (the JSON envelope)', () => {
  it("the client's failure on a door: its code and status, info auth.<door>.failed", async () => {
    const h = harness();
    const res = await h.services.app.request('/api/auth/mini/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"code":"x"}' });
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).error.code).toBe('invalid_request');
    expect(h.lineOf('auth.mini.failed')).toMatchObject({ level: 'info', errorCode: 'invalid_request', status: 400, path: '/api/auth/mini/login' });
    h.services.stop();
  });

  it('a failure on our side: 503 store_unavailable, warn http.failed with its cause', async () => {
    const h = harness();
    h.fail.with = 'store';
    const state = 'S'.repeat(32);
    const res = await h.services.app.request('/api/auth/web/session', { method: 'POST', headers: { 'content-type': 'application/json', cookie: `wx_web_state=${state}` }, body: JSON.stringify({ state }) });
    expect(res.status).toBe(503);
    expect(((await res.json()) as any).error.code).toBe('store_unavailable');
    expect(h.lineOf('http.failed')).toMatchObject({ level: 'warn', errorCode: 'store_unavailable', cause: expect.any(StoreUnavailableError) });
    h.services.stop();
  });

  it('a bug: 500 internal_error, error http.unhandled with the error', async () => {
    const h = harness();
    h.fail.with = 'bug';
    const state = 'S'.repeat(32);
    const res = await h.services.app.request('/api/auth/web/session', { method: 'POST', headers: { 'content-type': 'application/json', cookie: `wx_web_state=${state}` }, body: JSON.stringify({ state }) });
    expect(res.status).toBe(500);
    expect(((await res.json()) as any).error).toMatchObject({ code: 'internal_error', message: '服务器内部错误' });
    expect(h.lineOf('http.unhandled')).toMatchObject({ level: 'error', error: expect.any(TypeError) });
    h.services.stop();
  });
});

describe('the browser doors redirect back to the login page', () => {
  const errorOf = (res: Response) => new URL(res.headers.get('location')!, 'http://h5').searchParams.get('web_login_error');

  it.each([
    [null, 'web_login_state_invalid', 'info'],
    ['store', 'store_unavailable', 'warn'],
    ['bug', 'internal_error', 'error'],
  ] as const)('store failing with %s: ?web_login_error=%s, logged at %s', async (failWith, code, level) => {
    const h = harness();
    const state = 'S'.repeat(32);
    h.fail.with = failWith;
    const res = await h.services.app.request(`/api/auth/web/callback?code=CODE1234&state=${state}`, { headers: { cookie: `wx_web_state=${state}` } });
    expect(res.status).toBe(302);
    expect(errorOf(res)).toBe(code);
    expect(h.lineOf('auth.web.failed')).toMatchObject({ level, ...(level === 'error' ? { error: expect.any(TypeError) } : { errorCode: code }) });
    h.services.stop();
  });

  it("inside WxLogin's iframe: the same codes and levels, told to the parent page", async () => {
    const h = harness();
    h.fail.with = 'bug';
    const res = await h.services.app.request(`/api/auth/web/callback?code=CODE1234&state=${'S'.repeat(32)}`, { headers: { 'sec-fetch-dest': 'iframe' } });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('"code":"internal_error"');
    expect(h.lineOf('auth.web.failed')).toMatchObject({ level: 'error' });
    h.services.stop();
  });
});

describe("the official account's push endpoint", () => {
  it('a forged push: 401 oa_push_signature_invalid, warn oa.push.refused with the reason; not a login failure', async () => {
    const h = harness();
    const res = await h.services.app.request(`/api/auth/oa/push?signature=${'0'.repeat(40)}&timestamp=1&nonce=2&echostr=3`);
    expect(res.status).toBe(401);
    expect(((await res.json()) as any).error.code).toBe('oa_push_signature_invalid');
    expect(h.lineOf('oa.push.refused')).toMatchObject({ level: 'warn', errorCode: 'oa_push_signature_invalid', reason: 'GET signature' });
    expect(h.lines.some((l) => l.event === 'auth.oa.failed')).toBe(false);
    h.services.stop();
  });
});

describe("the phone's PC-login pages", () => {
  it.each([
    [null, 410, 'pc_login_expired', 'info', '二维码已过期，请在电脑上刷新二维码'],
    ['store', 503, 'store_unavailable', 'warn', '数据服务暂时不可用，请稍后再试'],
    ['bug', 500, 'internal_error', 'error', '服务器内部错误'],
  ] as const)('store failing with %s: an HTML page with status %i (%s), logged at %s', async (failWith, status, code, level, message) => {
    const h = harness();
    h.fail.with = failWith;
    const res = await h.services.app.request(`/api/auth/pc/scan?a=${'A'.repeat(22)}`);
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toContain('text/html');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    // the page tells the code's Chinese message; the log names the code (a bug: the error itself, as http.unhandled)
    expect(await res.text()).toContain(`<p class="err" id="message">${message}</p>`);
    expect(h.lineOf('auth.pc.scan_failed')).toMatchObject({ level, ...(level === 'error' ? { error: expect.any(TypeError) } : { errorCode: code }) });
    h.services.stop();
  });
});
