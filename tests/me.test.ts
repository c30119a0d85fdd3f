import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../packages/server/src/crypto/tokens.js';
import { SESSION_LIFETIME_MS } from '../packages/server/src/sessions/sessions.js';
import { postJson, simCode, startStack, type Stack } from './support/stack.js';

let stack: Stack;
let token: string;
beforeAll(async () => {
  stack = await startStack();
  token = (await postJson(`${stack.apiUrl}/api/auth/mini/login`, { code: await simCode(stack, 'profiler') })).body.token;
});
afterAll(() => stack.close());

const patch = (body: unknown) =>
  fetch(`${stack.apiUrl}/api/auth/me`, { method: 'PATCH', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('PATCH /api/auth/me', () => {
  it('completes the profile with a nickname and a WeChat avatar', async () => {
    const res = await patch({ nickname: '  小明 😀 ', avatarUrl: 'https://thirdwx.qlogo.cn/mmopen/vi_32/abc/132' });
    expect(res.status).toBe(200);
    const { user } = await res.json();
    expect(user).toMatchObject({ nickname: '小明 😀', avatarUrl: 'https://thirdwx.qlogo.cn/mmopen/vi_32/abc/132', profileComplete: true });
    const me = await (await fetch(`${stack.apiUrl}/api/auth/me`, { headers: { authorization: `Bearer ${token}` } })).json();
    expect(me.user.nickname).toBe('小明 😀');
  });

  it.each([
    [{ nickname: '微信用户' }, 'invalid_request'],
    [{ nickname: '   ' }, 'invalid_request'],
    [{ nickname: 'x'.repeat(33) }, 'invalid_request'],
    [{}, 'invalid_request'],
    [{ nickname: 'ok', admin: true }, 'invalid_request'],
    [{ avatarUrl: 'https://evil.example/a.png' }, 'avatar_not_allowed'],
    [{ avatarUrl: 'http://thirdwx.qlogo.cn/a/132' }, 'avatar_not_allowed'],
    [{ avatarUrl: 'javascript:alert(1)' }, 'avatar_not_allowed'],
    [{ avatarUrl: 'https://thirdwx.qlogo.cn/mmopen/vi_32/POgEwh4mIHO4nibH0KlMECNjjGxQUq24ZEaGT4poC6icRiccVGKSyXwibcPq4BWmiaIGuG1icwxaQX6grC9VemZoJ8rg/132' }, 'avatar_not_allowed'],
  ])('rejects %j with %s and changes nothing', async (body, code) => {
    const before = (await stack.services.store.accounts.getUser((await (await fetch(`${stack.apiUrl}/api/auth/me`, { headers: { authorization: `Bearer ${token}` } })).json()).user.id))!;
    const res = await patch(body);
    expect(res.status).toBe(400);
    expect((await res.json()).error.code).toBe(code);
    expect(await stack.services.store.accounts.getUser(before.id)).toEqual(before);
  });
});

// wx.request knows OPTIONS GET HEAD POST PUT DELETE TRACE CONNECT — no PATCH (wechat-api-facts.md, toolchain
// notes): the mini-program saves its profile with PUT, the same update as PATCH.
describe('PUT /api/auth/me (the mini-program\'s profile update)', () => {
  const put = (body: unknown) =>
    fetch(`${stack.apiUrl}/api/auth/me`, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });

  it('updates the nickname like PATCH', async () => {
    const res = await put({ nickname: '  小红 ' });
    expect(res.status).toBe(200);
    expect((await res.json()).user).toMatchObject({ nickname: '小红' });
  });

  it('validates like PATCH and changes nothing on bad input', async () => {
    const res = await put({ nickname: '微信用户' });
    expect(res.status).toBe(400);
    expect((await res.json()).error.code).toBe('invalid_request');
    const me = await (await fetch(`${stack.apiUrl}/api/auth/me`, { headers: { authorization: `Bearer ${token}` } })).json();
    expect(me.user.nickname).toBe('小红');
  });
});

describe('GET /api/auth/me tells the session\'s current expiry', () => {
  it('answers expiresAt, and the slid expiry once the session is used in its second half', async () => {
    const login = (await postJson(`${stack.apiUrl}/api/auth/mini/login`, { code: await simCode(stack, 'slider') })).body;
    const first = await (await fetch(`${stack.apiUrl}/api/auth/me`, { headers: { authorization: `Bearer ${login.token}` } })).json();
    expect(first.expiresAt).toBe(login.expiresAt);

    // ten days left: the next use slides the session to a full lifetime from now
    const near = new Date(Date.now() + 10 * 24 * 3600_000);
    await stack.services.store.sessions.updateExpiration(sha256Hex(login.token), near);
    const before = Date.now();
    const res = await fetch(`${stack.apiUrl}/api/auth/me`, { headers: { authorization: `Bearer ${login.token}` } });
    const slid = Date.parse((await res.json()).expiresAt);
    expect(slid).toBeGreaterThanOrEqual(before + SESSION_LIFETIME_MS - 1000);
    expect(slid).toBeLessThanOrEqual(Date.now() + SESSION_LIFETIME_MS);
  });
});
