// The web-view door's client calls with a stubbed `uni` (issue 14): the mini-program asks for a
// ticket with its Bearer token and builds the web-view URL; the H5 page exchanges the ticket by
// POST and keeps the session it gets — never the mini-program's token.
import { createPinia, setActivePinia } from 'pinia';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { WEBVIEW_TICKET_PARAM } from '../uni_modules/wlu-wxlogin/request/messages';
import { AGREED_KEY, useWluAuthStore } from '../uni_modules/wlu-wxlogin/store/auth';
import { envelope, future, installUni, user, type Handler } from './support/uni-stub';

const BASE = 'https://api.example.test';
const TICKET = 'abcdefghijklmnopqrstuvwxyz234567';

beforeEach(() => {
  vi.stubEnv('UNI_PLATFORM', 'mp-weixin');
});
afterEach(() => {
  vi.unstubAllEnvs();
  vi.unstubAllGlobals();
});

describe('web-view ticket (client)', () => {
  it('webviewUrl: POST /api/auth/webview/ticket with the Bearer token, the ticket appended to the page URL', async () => {
    const seen: Array<{ url: string; method?: string; auth?: string }> = [];
    const handler: Handler = async (req) => {
      seen.push({ url: req.url, method: req.method, auth: req.header.authorization });
      if (req.url === `${BASE}/api/auth/mini/login`) return { statusCode: 200, data: { token: 'tok-1', expiresAt: future(), user: user(), isNewUser: false } };
      if (req.url === `${BASE}/api/auth/webview/ticket`) return { statusCode: 200, data: { ticket: TICKET, expiresIn: 60 } };
      return { statusCode: 404, data: envelope('not_found') };
    };
    const stub = installUni(handler);
    stub.storage.set(AGREED_KEY, true);
    setActivePinia(createPinia());
    useWluAuthStore().configure({ apiBase: BASE });
    await useWluAuthStore().login();
    expect(await useWluAuthStore().webviewUrl('https://h5.example.com/uni_modules/wlu-wxlogin/pages/login/index')).toBe(`https://h5.example.com/uni_modules/wlu-wxlogin/pages/login/index?${WEBVIEW_TICKET_PARAM}=${TICKET}`);
    expect(await useWluAuthStore().webviewUrl('https://h5.example.com/uni_modules/wlu-wxlogin/pages/login/index?next=%2Fpages%2Faccount%2Findex')).toBe(`https://h5.example.com/uni_modules/wlu-wxlogin/pages/login/index?next=%2Fpages%2Faccount%2Findex&${WEBVIEW_TICKET_PARAM}=${TICKET}`);
    const ticketCalls = seen.filter((s) => s.url.endsWith('/api/auth/webview/ticket'));
    expect(ticketCalls).toHaveLength(2);
    expect(ticketCalls.every((s) => s.method === 'POST' && s.auth === 'Bearer tok-1')).toBe(true);
  });

  it('exchangeWebviewTicket: POST {ticket} without a token; the new session is stored', async () => {
    vi.stubEnv('UNI_PLATFORM', 'h5');
    const seen: Array<{ url: string; data: unknown; auth?: string }> = [];
    installUni(async (req) => {
      seen.push({ url: req.url, data: req.data, auth: req.header.authorization });
      return { statusCode: 200, data: { token: 'h5-token', expiresAt: future(), user: user(), isNewUser: false } };
    });
    setActivePinia(createPinia());
    useWluAuthStore().configure({ apiBase: BASE });
    await useWluAuthStore().exchangeWebviewTicket(TICKET);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.url.endsWith('/api/auth/webview/session')).toBe(true);
    expect(seen[0]!.data).toEqual({ ticket: TICKET });
    expect(seen[0]!.auth).toBeUndefined();
    expect(useWluAuthStore().token).toBe('h5-token');
  });
});
