import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from './support/stack.js';

/**
 * Issue 18 item 8: what README tells a newcomer works as written — its command-line login runs
 * against a stack on other ports than 3000/3100 (PORT / WECHAT_SIM_PORT), and its browser
 * walkthrough names the buttons the pages really show.
 */
const README = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const page = (path: string) => readFileSync(new URL(`../client/${path}`, import.meta.url), 'utf8');

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ web: false, oa: false });
});
afterAll(() => stack?.close());

describe('README', () => {
  it('the command-line login works as printed after moving the ports (PORT, WECHAT_SIM_PORT)', async () => {
    const block = /Try a login from the command line[^\n]*\n```bash\n([\s\S]*?)```/.exec(README)?.[1];
    expect(block, 'the curl demo').toBeTruthy();
    const apiPort = new URL(stack.apiUrl).port;
    const simPort = new URL(stack.simUrl).port;
    expect([apiPort, simPort]).not.toContain('3000');
    const script = block!.replaceAll('wxd0c0ffee00000001', stack.appid);
    // asynchronously: the stack answers from this process
    const run = await promisify(execFile)('bash', ['--norc', '--noprofile', '-euo', 'pipefail', '-c', script], {
      env: { ...process.env, PORT: apiPort, WECHAT_SIM_PORT: simPort },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(run.stderr).toBe('');
    // curl prints the bodies without a newline: {"user":…}204\n{"error":…}
    const [, me, logout, after] = /^(\{.*\})(\d{3})\n(\{.*\})$/s.exec(run.stdout.trim()) ?? [];
    expect(JSON.parse(me!).user).toBeTruthy(); // /api/auth/me while logged in
    expect(logout).toBe('204');
    expect(JSON.parse(after!).error.code).toBe('unauthorized'); // /api/auth/me afterwards
  });

  it('the browser walkthrough names the buttons the home page and the PC login card show', () => {
    const walkthrough = README.slice(README.indexOf('In a browser / 浏览器里'), README.indexOf('Try a login from the command line'));
    const buttons = [...walkthrough.matchAll(/\*\*([^*]+)\*\*/g)].map((m) => m[1]!);
    expect(buttons.slice(0, 2)).toEqual(['登录', '微信扫码登录']);
    expect(page('pages/index/index.vue')).toMatch(/<button[^>]*>登录<\/button>/);
    expect(page('uni_modules/wlu-wxlogin/components/wlu-pc-login-card/wlu-pc-login-card.vue')).toMatch(/<button[^>]*>微信扫码登录<\/button>/);
    // the first step is the home page's own button, not a button only the login page has
    expect(page('pages/index/index.vue')).not.toContain('微信扫码登录');
  });
});
