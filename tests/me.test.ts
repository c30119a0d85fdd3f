import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJson, simCode, startStack, type Stack } from './support/stack.js';

let stack: Stack;
let token: string;
beforeAll(async () => {
  stack = await startStack();
  token = (await postJson(`${stack.apiUrl}/api/auth/mini/login`, { code: await simCode(stack, 'profiler') })).body.token;
});
afterAll(() => stack.close());

const patch = (body: unknown) =>
  fetch(`${stack.apiUrl}/api/me`, { method: 'PATCH', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('PATCH /api/me', () => {
  it('completes the profile with a nickname and a WeChat avatar', async () => {
    const res = await patch({ nickname: '  小明 😀 ', avatarUrl: 'https://thirdwx.qlogo.cn/mmopen/vi_32/abc/132' });
    expect(res.status).toBe(200);
    const { user } = await res.json();
    expect(user).toMatchObject({ nickname: '小明 😀', avatarUrl: 'https://thirdwx.qlogo.cn/mmopen/vi_32/abc/132', profileComplete: true });
    const me = await (await fetch(`${stack.apiUrl}/api/me`, { headers: { authorization: `Bearer ${token}` } })).json();
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
    const before = (await stack.services.store.getUser((await (await fetch(`${stack.apiUrl}/api/me`, { headers: { authorization: `Bearer ${token}` } })).json()).user.id))!;
    const res = await patch(body);
    expect(res.status).toBe(400);
    expect((await res.json()).error.code).toBe(code);
    expect(await stack.services.store.getUser(before.id)).toEqual(before);
  });
});
