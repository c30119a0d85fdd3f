import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../packages/server/src/log.js';
import { postJson, simCode, startStack, type Stack } from './support/stack.js';

/** Issue 10, first hour: the dev console logs failed logins with their error code, not only successes. */
const lines: { level: string; event: string; errorCode?: string; [k: string]: unknown }[] = [];
let stack: Stack;
afterAll(() => stack?.close());

describe('the log of failed logins', () => {
  it('names the door and the error code, and no secret', async () => {
    stack = await startStack({ overrides: { logger: createLogger((line) => lines.push(JSON.parse(line))) } });
    const code = await simCode(stack, 'logger');
    expect((await postJson(`${stack.apiUrl}/api/auth/mini/login`, { code })).status).toBe(200);
    expect((await postJson(`${stack.apiUrl}/api/auth/mini/login`, { code })).status).toBe(409); // the same code again
    expect((await postJson(`${stack.apiUrl}/api/auth/mini/login`, { code: 'made-up-code' })).status).toBe(401);
    const callback = await fetch(`${stack.apiUrl}/api/auth/web/callback?code=abc&state=${'A'.repeat(32)}`, { redirect: 'manual' });
    expect(callback.status).toBe(302);

    expect(lines.filter((l) => l.event === 'auth.mini.login')).toHaveLength(1);
    const failed = lines.filter((l) => /^auth\.(mini|web|oa)\.failed$/.test(l.event)).map((l) => [l.event, l.errorCode]);
    expect(failed).toEqual([
      ['auth.mini.failed', 'code_already_used'],
      ['auth.mini.failed', 'code_invalid'],
      ['auth.web.failed', 'web_login_state_invalid'],
    ]);
    const text = JSON.stringify(lines);
    expect(text).not.toContain(code);
    expect(text).not.toContain('made-up-code');
  });
});

describe('the log of a successful mini login', () => {
  it('is one info line naming the user, whether the account is new, and whether WeChat sent a unionid (a flag, never the value)', async () => {
    const seen: { level: string; event: string; [k: string]: unknown }[] = [];
    const own = await startStack({ overrides: { logger: createLogger((line) => seen.push(JSON.parse(line))) } });
    try {
      const first = await postJson(`${own.apiUrl}/api/auth/mini/login`, { code: await simCode(own, 'logged') });
      const again = await postJson(`${own.apiUrl}/api/auth/mini/login`, { code: await simCode(own, 'logged') });
      expect([first.status, again.status]).toEqual([200, 200]);
      const logins = seen.filter((l) => l.event === 'auth.mini.login');
      expect(logins).toMatchObject([
        { level: 'info', userId: first.body.user.id, isNewUser: true, unionid: true },
        { level: 'info', userId: first.body.user.id, isNewUser: false, unionid: true },
      ]);
    } finally {
      await own.close();
    }
  });
});
