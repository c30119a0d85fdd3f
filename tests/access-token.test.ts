import { getRecord } from './support/records.js';
import { describe, expect, it } from 'vitest';
import { createSealer } from '../packages/server/src/crypto/seal.js';
import { silentLogger } from '../packages/server/src/log.js';
import { EmbeddedStore } from '../packages/server/src/store/embedded.js';
import { createAccessTokens, REFRESH_AHEAD_MS } from '../packages/server/src/wechat/access-token.js';
import { WechatApiError } from '../packages/server/src/wechat/transport.js';
import { postJson, simCode, startStack } from './support/stack.js';
import { accessTokenSuite } from './support/access-token-suite.js';

const sealer = createSealer(new Map([['t', Buffer.alloc(32, 1)]]));

accessTokenSuite('embedded store', async () => new EmbeddedStore({ dir: null }));

describe('access_token repair rules', () => {
  function fake(now: { t: number }) {
    const calls: boolean[] = [];
    let current = 'T1';
    let n = 1;
    const store = new EmbeddedStore({ dir: null });
    const tokens = createAccessTokens({
      appid: 'wx0000000000000001',
      store,
      sealer,
      logger: silentLogger,
      clock: () => now.t,
      fetchToken: async (force) => {
        calls.push(force);
        if (force) current = `T${++n}`;
        return { accessToken: current, expiresIn: 7200 };
      },
    });
    return { tokens, calls, store, rotate: () => (current = `T${++n}`) };
  }

  it('refreshes ahead of expiry, not at it', async () => {
    const now = { t: 1_000_000 };
    const f = fake(now);
    await f.tokens.get();
    now.t += 7200_000 - REFRESH_AHEAD_MS - 1000;
    await f.tokens.get();
    expect(f.calls).toEqual([false]);
    now.t += 2000;
    await f.tokens.get();
    expect(f.calls).toEqual([false, false]);
  });

  it('forces a refresh only when a normal call returns the rejected token, and at most every 30 s', async () => {
    const now = { t: Date.now() };
    const f = fake(now);
    const rejecting = (bad: Set<string>) => async (token: string) => {
      if (bad.has(token)) throw new WechatApiError('/x', 40001, 'invalid credential, access_token is invalid or not latest');
      return token;
    };
    expect(await f.tokens.withToken(rejecting(new Set(['T1'])))).toBe('T2');
    expect(f.calls).toEqual([false, false, true]);
    expect((await getRecord(f.store, 'wechat_token:wx0000000000000001'))!.value.forceCount).toBe(1);
    now.t += 5_000;
    const error = await f.tokens.withToken(rejecting(new Set(['T2']))).catch((e) => e);
    expect(error).toMatchObject({ name: 'WechatUnavailableError', reason: 'token_refresh' }); // → 503 wechat_token_unavailable at the edge
    expect(f.calls.filter(Boolean)).toHaveLength(1);
  });

  it('42001 (expired) takes a normal call, never a forced one', async () => {
    const now = { t: Date.now() };
    const f = fake(now);
    let first = true;
    const result = await f.tokens.withToken(async (token) => {
      if (first) {
        first = false;
        f.rotate();
        throw new WechatApiError('/x', 42001, 'access_token expired');
      }
      return token;
    });
    expect(result).toBe('T2');
    expect(f.calls).toEqual([false, false]);
  });
});

describe('IP whitelist', () => {
  it('40164 is surfaced as wechat_ip_not_whitelisted with what to do', async () => {
    const stack = await startStack();
    try {
      await postJson(`${stack.simUrl}/__sim/apps/whitelist`, { appid: stack.appid, ips: ['203.0.113.7'] });
      const login = await postJson(`${stack.apiUrl}/api/auth/mini/login`, { code: await simCode(stack, 'ip') });
      expect(login.status).toBe(200); // jscode2session is not whitelisted
      const code = (await postJson(`${stack.simUrl}/__sim/mini/phone-code`, { appid: stack.appid, user: 'ip' })).body.code;
      const res = await postJson(`${stack.apiUrl}/api/auth/me/phone`, { code }, { authorization: `Bearer ${login.body.token}` });
      expect(res.status).toBe(503);
      expect(res.body.error.code).toBe('wechat_ip_not_whitelisted');
      expect(res.body.error.message).toContain('IP 白名单');
    } finally {
      await stack.close();
    }
  });
});
