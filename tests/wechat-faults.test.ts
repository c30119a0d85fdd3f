import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../packages/server/src/log.js';
import { postJson, simCode, startStack, type Stack } from './support/stack.js';

const lines: string[] = [];
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ env: { WECHAT_TIMEOUT_MS: '600' }, overrides: { logger: createLogger((line) => lines.push(line), 'debug') } });
});
afterAll(() => stack.close());

const fault = (mode: string | null, extra: Record<string, unknown> = {}) =>
  postJson(`${stack.simUrl}/__sim/faults`, { api: 'jscode2session', mode, times: 1, ...extra });
const login = async (user: string) => postJson(`${stack.apiUrl}/api/auth/mini/login`, { code: await simCode(stack, user) });

describe('when WeChat misbehaves the user gets a clear answer', () => {
  it.each([
    ['system_error', 503, 'wechat_unavailable'],
    ['rate_limited', 429, 'wechat_rate_limited'],
    ['malformed', 503, 'wechat_unavailable'],
    ['html', 503, 'wechat_unavailable'],
    ['http_500', 503, 'wechat_unavailable'],
  ])('%s → %i %s', async (mode, status, code) => {
    await fault(mode);
    const res = await login(`fault-${mode}`);
    expect(res.status).toBe(status);
    expect(res.body.error.code).toBe(code);
    expect(res.body.error.message).toMatch(/[\u4e00-\u9fa5]/);
  });

  it('a slow WeChat is cut off by the timeout and answered as unavailable', async () => {
    await fault('slow', { delayMs: 3000 });
    const started = Date.now();
    const res = await login('slowpoke');
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('wechat_unavailable');
    expect(Date.now() - started).toBeLessThan(2500);
  });

  it('after a failed call the user can log in with a fresh code', async () => {
    await fault('system_error');
    expect((await login('retry')).status).toBe(503);
    expect((await login('retry')).status).toBe(200);
  });

  // Issue 10 finding 8: with no database claim, a code whose jscode2session call failed before
  // WeChat could spend it is not burnt on our side — the same code works on the retry.
  it.each(['system_error', 'rate_limited', 'http_500'])('after %s the SAME code logs in on the retry', async (mode) => {
    await fault(mode);
    const code = await simCode(stack, `same-${mode}`);
    const before = stack.sim.calls.get('jscode2session') ?? 0;
    expect((await postJson(`${stack.apiUrl}/api/auth/mini/login`, { code })).status).toBeGreaterThanOrEqual(429);
    const retry = await postJson(`${stack.apiUrl}/api/auth/mini/login`, { code });
    expect(retry.status).toBe(200);
    expect(retry.body.isNewUser).toBe(true);
    expect((stack.sim.calls.get('jscode2session') ?? 0) - before).toBe(2);
  });

  it('after a refused connection the SAME code logs in on the retry', async () => {
    let refuse = true;
    const flaky = await startStack({
      overrides: {
        fetch: async (input, init) => {
          if (refuse && String(input).includes('/sns/jscode2session')) {
            refuse = false;
            throw Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
          }
          return fetch(input, init);
        },
      },
    });
    try {
      const code = await simCode(flaky, 'refused');
      const first = await postJson(`${flaky.apiUrl}/api/auth/mini/login`, { code });
      expect(first.status).toBe(503);
      expect(first.body.error.code).toBe('wechat_unavailable');
      expect(refuse).toBe(false);
      expect((await postJson(`${flaky.apiUrl}/api/auth/mini/login`, { code })).status).toBe(200);
    } finally {
      await flaky.close();
    }
  });

  it('a wrong AppSecret is a server configuration error, not the user\'s fault', async () => {
    const bad = await startStack({ env: { WECHAT_MINI_SECRET: 'f'.repeat(32) }, overrides: { logger: createLogger((line) => lines.push(line), 'debug') } });
    try {
      // The simulator registered the app with this secret; point the API at it with another one.
      bad.sim.apps.get(bad.appid)!.secret = '0'.repeat(32);
      const res = await postJson(`${bad.apiUrl}/api/auth/mini/login`, { code: await simCode(bad, 'x') });
      expect(res.status).toBe(500);
      expect(res.body.error.code).toBe('wechat_config_invalid');
    } finally {
      await bad.close();
    }
  });

  it('no secret, code, session_key or token reaches a response or a log line', async () => {
    const secret = stack.services.config.mini.secret;
    const codes: string[] = [];
    const tokens: string[] = [];
    const bodies: string[] = [];
    for (const mode of ['system_error', 'http_500', 'malformed', null]) {
      if (mode) await fault(mode);
      const code = await simCode(stack, 'leaky');
      codes.push(code);
      const res = await postJson(`${stack.apiUrl}/api/auth/mini/login`, { code });
      bodies.push(JSON.stringify(res.body));
      if (res.body.token) tokens.push(res.body.token);
    }
    const sessionKey = stack.sim.currentSessionKey(stack.appid, 'leaky')!;
    const everything = [...lines, ...bodies].join('\n');
    expect(lines.some((l) => l.includes('wechat.'))).toBe(true);
    for (const value of [secret, sessionKey, ...codes]) expect(everything.split('\n').find((l) => l.includes(value))).toBeUndefined();
    // the bearer token belongs in its own login response and nowhere else
    for (const token of tokens) expect(lines.find((l) => l.includes(token))).toBeUndefined();
  });
});
