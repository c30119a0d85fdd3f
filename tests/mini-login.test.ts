import { storeStats } from './support/records.js';
import { sha256Hex } from '../packages/server/src/crypto/tokens.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openidKey } from '../packages/server/src/users/accounts.js';
import { postJson, simCode, startStack, type Stack } from './support/stack.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack.close());

const login = (body: unknown) => postJson(`${stack.apiUrl}/api/auth/mini/login`, body);
const me = (token: string) => fetch(`${stack.apiUrl}/api/auth/me`, { headers: { authorization: `Bearer ${token}` } });
const calls = () => stack.sim.calls.get('jscode2session') ?? 0;

describe('POST /api/auth/mini/login', () => {
  it('logs a new user in, and the token opens /api/auth/me', async () => {
    const res = await login({ code: await simCode(stack, 'alice') });
    expect(res.status).toBe(200);
    expect(res.body.token).toMatch(/^[a-z2-7]{32}$/);
    expect(res.body.isNewUser).toBe(true);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const mine = await me(res.body.token);
    expect(mine.status).toBe(200);
    expect((await mine.json()).user.id).toBe(res.body.user.id);
  });

  it('finds the same account on the next login, with a new session', async () => {
    const first = await login({ code: await simCode(stack, 'bob') });
    const second = await login({ code: await simCode(stack, 'bob') });
    expect(second.status).toBe(200);
    expect(second.body.user.id).toBe(first.body.user.id);
    expect(second.body.isNewUser).toBe(false);
    expect(second.body.token).not.toBe(first.body.token);
    expect((await me(first.body.token)).status).toBe(200);
  });

  it('never stores WeChat\'s anonymous profile as a real one', async () => {
    const res = await login({
      code: await simCode(stack, 'anon'),
      profile: { nickName: '微信用户', avatarUrl: 'https://thirdwx.qlogo.cn/mmopen/vi_32/POgEwh4mIHO4nibH0KlMECNjjGxQUq24ZEaGT4poC6icRiccVGKSyXwibcPq4BWmiaIGuG1icwxaQX6grC9VemZoJ8rg/132' },
    });
    expect(res.body.user).toMatchObject({ nickname: null, avatarUrl: null, profileComplete: false });
  });

  it('seeds a brand-new user from the login profile but never overwrites an existing one', async () => {
    const avatar = 'https://thirdwx.qlogo.cn/mmopen/vi_32/realAvatar/132';
    const first = await login({ code: await simCode(stack, 'carol'), profile: { nickName: '小卡', avatarUrl: avatar } });
    expect(first.body.user).toMatchObject({ nickname: '小卡', avatarUrl: avatar, profileComplete: true });
    const again = await login({ code: await simCode(stack, 'carol'), profile: { nickName: '冒充者', avatarUrl: 'https://evil.example/a.png' } });
    expect(again.body.user).toMatchObject({ nickname: '小卡', avatarUrl: avatar });
  });

  it('refuses an avatar from a host that is not WeChat when seeding', async () => {
    const res = await login({ code: await simCode(stack, 'dave'), profile: { nickName: 'Dave', avatarUrl: 'https://evil.example/a.png' } });
    expect(res.body.user).toMatchObject({ nickname: 'Dave', avatarUrl: null });
  });

  // No database claim before WeChat (docs/API.md "Login codes"): a sequential replay costs one
  // jscode2session call, which WeChat refuses with 40163 (wechat-api-facts.md §1, docs/WECHAT.md).
  it('answers a code used before 409 code_already_used, on WeChat\'s word (40163)', async () => {
    const code = await simCode(stack, 'erin');
    const first = await login({ code });
    expect(first.status).toBe(200);
    const before = calls();
    const again = await login({ code });
    expect(again.status).toBe(409);
    expect(again.body.error).toMatchObject({ code: 'code_already_used', message: '登录凭证已使用，请重新获取' });
    expect(calls()).toBe(before + 1);
    expect(again.body.token).toBeUndefined();
  });

  it('two people logging in at the same moment, each with their own code, both get in', async () => {
    const [a, b] = await Promise.all([simCode(stack, 'same-moment-a'), simCode(stack, 'same-moment-b')]);
    const results = await Promise.all([login({ code: a }), login({ code: b })]);
    expect(results.map((r) => r.status)).toEqual([200, 200]);
    expect(results[0]!.body.user.id).not.toBe(results[1]!.body.user.id);
  });

  it('lists the new session under 登录设备 as a mini-program session (via "mini")', async () => {
    const res = await login({ code: await simCode(stack, 'via-mini') });
    const listed = await fetch(`${stack.apiUrl}/api/auth/sessions`, { headers: { authorization: `Bearer ${res.body.token}` } });
    expect(listed.status).toBe(200);
    expect((await listed.json()).sessions).toMatchObject([{ via: 'mini', current: true }]);
  });

  it('a double tap (two concurrent requests with one code) logs in once', async () => {
    const code = await simCode(stack, 'frank');
    const before = calls();
    const results = await Promise.all([login({ code }), login({ code })]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 409]);
    expect(calls()).toBe(before + 1);
  });

  it('maps an unknown code (40029) to code_invalid and a code spent elsewhere (40163) to code_already_used', async () => {
    const unknown = await login({ code: 'A'.repeat(32) });
    expect(unknown.status).toBe(401);
    expect(unknown.body.error.code).toBe('code_invalid');
    const code = await simCode(stack, 'grace');
    const direct = await fetch(`${stack.simUrl}/sns/jscode2session?appid=${stack.appid}&secret=${stack.services.config.mini.secret}&js_code=${code}&grant_type=authorization_code`);
    expect((await direct.json()).openid).toBeTruthy();
    const spent = await login({ code });
    expect(spent.status).toBe(409);
    expect(spent.body.error).toMatchObject({ code: 'code_already_used', message: '登录凭证已使用，请重新获取' });
  });

  it('refuses a high-risk user (40226) with its own code', async () => {
    await postJson(`${stack.simUrl}/__sim/users/block`, { user: 'mallory', blocked: true });
    const res = await login({ code: await simCode(stack, 'mallory') });
    expect(res.status).toBe(403);
    expect(res.body.error).toMatchObject({ code: 'wechat_user_blocked', message: '账号存在风险，暂时无法登录' });
  });

  it('rejects a malformed code before touching the database or WeChat', async () => {
    const before = calls();
    const stats = await storeStats(stack.services.store);
    for (const body of [{}, { code: '' }, { code: 'has spaces in it' }, { code: 42 }, { code: 'x'.repeat(500) }]) {
      const res = await login(body);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('invalid_request');
    }
    expect(calls()).toBe(before);
    expect(await storeStats(stack.services.store)).toEqual(stats);
  });

  it('keeps the session_key only encrypted at rest', async () => {
    const res = await login({ code: await simCode(stack, 'heidi') });
    expect(res.status).toBe(200);
    const plain = stack.sim.currentSessionKey(stack.appid, 'heidi')!;
    const key = openidKey(stack.appid, stack.sim.openid(stack.appid, 'heidi'));
    // It rides on the session this login created (docs/ACCOUNTS.md "Where session_key lives").
    const session = await stack.services.store.sessions.get(sha256Hex(res.body.token));
    const sealed = session!.wxSessionKey!;
    expect(sealed.identity).toBe(key);
    expect(sealed.sealed.kid).toMatch(/^dev-[0-9a-f]{8}$/); // a generated development key
    expect(JSON.stringify(session)).not.toContain(plain);
    expect(JSON.stringify(await stack.services.store.accounts.getIdentity(key))).not.toContain(plain);
    expect(stack.services.sealer.open(sealed.sealed, key)).toBe(plain);
    expect(() => stack.services.sealer.open(sealed.sealed, 'oid:other')).toThrow();
    expect(JSON.stringify(res.body)).not.toContain(plain);
  });
});

describe('logout', () => {
  it('revokes the session at once', async () => {
    const { body } = await login({ code: await simCode(stack, 'ivan') });
    const out = await fetch(`${stack.apiUrl}/api/auth/logout`, { method: 'POST', headers: { authorization: `Bearer ${body.token}` } });
    expect(out.status).toBe(204);
    const after = await me(body.token);
    expect(after.status).toBe(401);
    expect((await after.json()).error.code).toBe('unauthorized');
  });
});
