import { compareAndSetRecord, getRecord, withPort } from './support/records.js';
import { describe, expect, it } from 'vitest';
import { createSealer, type Sealer } from '../packages/server/src/crypto/seal.js';
import type { Logger } from '../packages/server/src/log.js';
import { EmbeddedStore } from '../packages/server/src/store/embedded.js';
import type { RecordPort, Storage } from '../packages/server/src/store/types.js';
import type { StableToken } from '../packages/server/src/wechat/auth/stable_token.js';
import { createAccessTokens } from '../packages/server/src/wechat/access-token.js';
import { WechatApiError, WechatConfigError, WechatUnavailableError } from '../packages/server/src/wechat/transport.js';

// The shared access_token (docs/WECHAT.md "Access token", wechat-api-facts.md §6): refresh 10 minutes
// ahead, one refresher at a time across instances (a lease in the shared record), repair a refused
// token once. Constants are literals here (600_000, 150, 5_000): a test that imported them could
// not notice them change.
const APPID = 'wx00000000000000a7';
const RECORD = `wechat_token:${APPID}`;
const CONTEXT = `access_token:${APPID}`;
const OLD_KEY = Buffer.alloc(32, 7);
const NEW_KEY = Buffer.alloc(32, 9);
const sealer = createSealer(new Map([['k', OLD_KEY]]));

interface Line {
  level: string;
  event: string;
  [field: string]: unknown;
}

function harness(options: { store?: Storage; sealer?: Sealer; start?: number; fetchToken?: (force: boolean) => Promise<StableToken>; onSleep?: (ms: number, clock: { t: number }) => void } = {}) {
  const clock = { t: options.start ?? 1_800_000_000_000 };
  const store = options.store ?? new EmbeddedStore({ dir: null });
  const calls: boolean[] = [];
  const sleeps: number[] = [];
  const lines: Line[] = [];
  const logger: Logger = { log: (level, event, fields) => lines.push({ level, event, ...fields }) };
  const tokens = createAccessTokens({
    appid: APPID,
    store,
    sealer: options.sealer ?? sealer,
    logger,
    clock: () => clock.t,
    sleep: async (ms) => {
      sleeps.push(ms);
      if (sleeps.length > 20) throw new Error('runaway wait');
      options.onSleep?.(ms, clock);
    },
    fetchToken: async (force) => {
      calls.push(force);
      if (calls.length > 10) throw new Error('runaway stable_token calls');
      return options.fetchToken ? options.fetchToken(force) : { accessToken: 'T1', expiresIn: 7200 };
    },
  });
  return { tokens, store, clock, calls, sleeps, lines };
}

/** The record another instance would have written (its shape: packages/server/src/wechat/access-token.ts TokenDoc). */
function doc(fields: { token?: string | null; expiresAt?: number; leaseOwner?: string | null; leaseUntil?: number }) {
  return {
    token: fields.token ? sealer.seal(fields.token, CONTEXT) : null,
    expiresAt: fields.expiresAt ?? 0,
    leaseOwner: fields.leaseOwner ?? null,
    leaseUntil: fields.leaseUntil ?? 0,
    forceDay: '',
    forceCount: 0,
    lastForceAt: 0,
  };
}

async function capture(promise: Promise<unknown>): Promise<unknown> {
  let error: unknown;
  try {
    await promise;
  } catch (e) {
    error = e;
  }
  return error;
}

describe('access_token: refresh ahead of expiry', () => {
  it('refreshes when exactly 10 minutes are left, not a millisecond earlier', async () => {
    const h = harness();
    const t0 = h.clock.t;
    await h.tokens.get();
    h.clock.t = t0 + 7_200_000 - 600_001;
    await h.tokens.get();
    expect(h.calls).toEqual([false]);
    h.clock.t = t0 + 7_200_000 - 600_000;
    await h.tokens.get();
    expect(h.calls).toEqual([false, false]);
  });
});

describe('access_token: what a failing stable_token call becomes', () => {
  const failing = (errcode: number, errmsg = 'x') => async (): Promise<StableToken> => {
    throw new WechatApiError('/cgi-bin/stable_token', errcode, errmsg);
  };

  it('45009 (daily quota used up) is "WeChat unavailable", not a crash', async () => {
    const error = await capture(harness({ fetchToken: failing(45009) }).tokens.get());
    expect(error).toBeInstanceOf(WechatUnavailableError);
    expect(error).toMatchObject({ reason: 'token_refresh' });
    // The message is what the operator reads in the log line of the failed request.
    expect((error as Error).message).toContain('daily stable_token quota used up (45009)');
  });

  it('a wrong AppSecret / AppID (40001, 40125, 40013) is a configuration error, logged once at error level', async () => {
    for (const errcode of [40001, 40125, 40013]) {
      const h = harness({ fetchToken: failing(errcode) });
      const error = await capture(h.tokens.get());
      expect(error, String(errcode)).toBeInstanceOf(WechatConfigError);
      expect(error, String(errcode)).toMatchObject({ reason: 'credentials', errcode });
      expect(h.lines.filter((l) => l.level === 'error'), String(errcode)).toEqual([{ level: 'error', event: 'wechat.token.config_invalid', appid: APPID, errcode }]);
    }
  });

  it('a server IP outside the whitelist (40164, 89503) says so, with WeChat\'s message, at error level', async () => {
    for (const errcode of [40164, 89503]) {
      const h = harness({ fetchToken: failing(errcode, 'invalid ip 203.0.113.7') });
      const error = await capture(h.tokens.get());
      expect(error, String(errcode)).toBeInstanceOf(WechatConfigError);
      expect(error, String(errcode)).toMatchObject({ reason: 'ip_not_whitelisted', errcode });
      expect(h.lines.filter((l) => l.level === 'error'), String(errcode)).toEqual([
        { level: 'error', event: 'wechat.token.ip_not_whitelisted', appid: APPID, errcode, errmsg: 'invalid ip 203.0.113.7' },
      ]);
    }
  });

  it('any other WeChat error reaches the caller unchanged, and a lease is not left behind', async () => {
    const h = harness({ fetchToken: failing(-1, 'system error') });
    const error = await capture(h.tokens.get());
    expect(error).toBeInstanceOf(WechatApiError);
    expect(error).toMatchObject({ errcode: -1 });
    expect(h.lines.filter((l) => l.level === 'error')).toEqual([]);
    const stored = (await getRecord(h.store, RECORD))!.value;
    expect(stored).toMatchObject({ leaseOwner: null, leaseUntil: 0 });
  });
});

describe('access_token: seal keys', () => {
  it('a token sealed with a key this instance lacks is fetched anew, with a warning naming the key id', async () => {
    const store = new EmbeddedStore({ dir: null });
    await harness({ store, sealer: createSealer(new Map([['gone', OLD_KEY]])) }).tokens.get();
    const h = harness({ store, sealer: createSealer(new Map([['fresh', NEW_KEY]])), fetchToken: async () => ({ accessToken: 'T-new', expiresIn: 7200 }) });
    expect(await h.tokens.get()).toBe('T-new');
    expect(h.calls).toEqual([false]);
    expect(h.lines.filter((l) => l.level === 'warn')).toMatchObject([{ event: 'wechat.token.unreadable', appid: APPID, kid: 'gone' }]);
  });

  it('a token sealed with the previous key is re-sealed with the current one once, then read without writes', async () => {
    const store = new EmbeddedStore({ dir: null });
    await harness({ store, sealer: createSealer(new Map([['old', OLD_KEY]])) }).tokens.get();
    const rotated = createSealer(new Map([['new', NEW_KEY], ['old', OLD_KEY]]));
    const h = harness({ store, sealer: rotated, fetchToken: async () => ({ accessToken: 'T-other', expiresIn: 7200 }) });
    expect(await h.tokens.get()).toBe('T1');
    const after = (await getRecord(store, RECORD))!;
    expect((after.value.token as { kid: string }).kid).toBe('new');
    // A fresh instance with the new key only (the old one removed) still reads it without WeChat.
    const later = harness({ store, sealer: createSealer(new Map([['new', NEW_KEY]])), fetchToken: async () => ({ accessToken: 'T-other', expiresIn: 7200 }) });
    expect(await later.tokens.get()).toBe('T1');
    expect(await later.tokens.get()).toBe('T1');
    expect(later.calls).toEqual([]);
    expect(h.calls).toEqual([]);
    expect((await getRecord(store, RECORD))!.version).toBe(after.version); // no write per read
  });

  it('a token record copied under another app\'s id does not open there', async () => {
    const store = new EmbeddedStore({ dir: null });
    // The other app's record holds a token sealed for that app: it must not be used for this one.
    await compareAndSetRecord(store, RECORD, { ...doc({}), token: sealer.seal('T-of-another-app', 'access_token:wx00000000000000b8'), expiresAt: 1_800_000_000_000 + 7_200_000 }, null);
    const h = harness({ store, fetchToken: async () => ({ accessToken: 'T-mine', expiresIn: 7200 }) });
    expect(await h.tokens.get()).toBe('T-mine');
  });
});

describe('access_token: another instance holds the refresh lease', () => {
  const t0 = 1_800_000_000_000;

  it('the still-valid token is used at once while the other instance refreshes early', async () => {
    const store = new EmbeddedStore({ dir: null });
    await compareAndSetRecord(store, RECORD, doc({ token: 'T-old', expiresAt: t0 + 300_000, leaseOwner: 'other', leaseUntil: t0 + 8_000 }), null);
    const h = harness({ store, start: t0 });
    expect(await h.tokens.get()).toBe('T-old');
    expect(h.calls).toEqual([]);
    expect(h.sleeps).toEqual([]);
  });

  it('a token expiring this very millisecond is not used: it waits for the other instance\'s new one', async () => {
    const store = new EmbeddedStore({ dir: null });
    await compareAndSetRecord(store, RECORD, doc({ token: 'T-old', expiresAt: t0, leaseOwner: 'other', leaseUntil: t0 + 8_000 }), null);
    const h = harness({
      store,
      start: t0,
      onSleep: () => {
        void store.records.get([RECORD], new Date()).then((found) => store.records.put(RECORD, doc({ token: 'T-new', expiresAt: t0 + 7_200_000 }), found.get(RECORD)!.version, null, new Date()));
      },
    });
    expect(await h.tokens.get()).toBe('T-new');
    expect(h.calls).toEqual([]);
    expect(h.sleeps).toEqual([150]);
  });

  it('waits at most 5 s (150 ms steps), then answers WeChat unavailable', async () => {
    const store = new EmbeddedStore({ dir: null });
    await compareAndSetRecord(store, RECORD, doc({ leaseOwner: 'other', leaseUntil: t0 + 60_000 }), null);
    // The first wait lands exactly on the 5 s deadline (still allowed), the next one just past it.
    const h = harness({ store, start: t0, onSleep: (_ms, clock) => (clock.t += clock.t === t0 ? 5_000 : 1) });
    const error = await capture(h.tokens.get());
    expect(error).toBeInstanceOf(WechatUnavailableError);
    expect((error as Error).message).toContain('5000 ms');
    expect(h.sleeps).toEqual([150, 150]);
    expect(h.calls).toEqual([]);
  });

  it('a lease that runs out this very millisecond holds no one back', async () => {
    const store = new EmbeddedStore({ dir: null });
    await compareAndSetRecord(store, RECORD, doc({ leaseOwner: 'other', leaseUntil: t0 }), null);
    const h = harness({ store, start: t0 });
    expect(await h.tokens.get()).toBe('T1');
    expect(h.sleeps).toEqual([]);
    expect(h.calls).toEqual([false]);
  });

  it('its own lease, left behind by a store failure, does not make an instance wait for itself', async () => {
    const inner = new EmbeddedStore({ dir: null });
    let writes = 0;
    const store = withPort(inner, 'records', {
      put: async (...args: Parameters<RecordPort['put']>) => {
        // the second write of the first refresh (saving the token) fails: the lease stays
        if (++writes === 2) throw new Error('store unavailable');
        return inner.records.put(...args);
      },
    });
    const h = harness({ store, start: t0 });
    expect(await capture(h.tokens.get())).toBeInstanceOf(Error);
    expect((await getRecord(inner, RECORD))!.value.leaseUntil).toBeGreaterThan(t0); // still leased, by itself
    expect(await h.tokens.get()).toBe('T1');
    expect(h.sleeps).toEqual([]);
  });
});

describe('access_token: repairing a refused token', () => {
  it('42001 with the same token handed back: one normal stable_token call, no forced one, the call retried once', async () => {
    const h = harness({ fetchToken: async () => ({ accessToken: 'T1', expiresIn: 7200 }) });
    let attempts = 0;
    const result = await h.tokens.withToken(async (token) => {
      if (++attempts === 1) throw new WechatApiError('/x', 42001, 'access_token expired');
      return `ok with ${token}`;
    });
    expect(result).toBe('ok with T1');
    expect(attempts).toBe(2);
    expect(h.calls).toEqual([false, false]);
  });

  it('any other failure of the call reaches the caller after one attempt, without touching the token', async () => {
    for (const failure of [new WechatApiError('/x', 40029, 'invalid code'), new WechatUnavailableError('/x', 'timeout', 'slow'), new Error('boom')]) {
      const h = harness();
      let attempts = 0;
      const error = await capture(
        h.tokens.withToken(async () => {
          attempts++;
          throw failure;
        }),
      );
      expect(error).toBe(failure);
      expect(attempts).toBe(1);
      expect(h.calls).toEqual([false]);
      expect(h.lines.filter((l) => l.event === 'wechat.token.rejected')).toEqual([]);
    }
  });

  it('a call refused as invalid (40001) while another repair for 42001 hands back the same token gets a new token, not that one', async () => {
    let current = 'T1';
    const h = harness({
      fetchToken: async (force) => {
        if (force) current = 'T2';
        return { accessToken: current, expiresIn: 7200 };
      },
    });
    await h.tokens.get();
    let attempts = 0;
    const call = async (token: string) => {
      await Promise.resolve();
      const n = ++attempts;
      if (n === 1) throw new WechatApiError('/x', 42001, 'access_token expired');
      if (n === 2) throw new WechatApiError('/x', 40001, 'access_token is invalid or not latest');
      return token;
    };
    const [expired, invalid] = await Promise.all([h.tokens.withToken(call), h.tokens.withToken(call)]);
    expect(expired).toBe('T1'); // 42001: a normal call, which handed back T1
    expect(invalid).toBe('T2'); // 40001 with T1 handed back again: a forced refresh
    expect(h.calls.filter(Boolean)).toHaveLength(1);
  });

  it('the log follows the token: refreshed (info, forced or not), rejected (warn), forced refresh refused (error), never the token', async () => {
    let current = 'SECRET-T1';
    let n = 1;
    const h = harness({
      fetchToken: async (force) => {
        if (force) current = `SECRET-T${++n}`;
        return { accessToken: current, expiresIn: 7200 };
      },
    });
    const rejecting = (bad: string) => async (token: string) => {
      if (token === bad) throw new WechatApiError('/x', 40001, 'invalid credential');
      return token;
    };
    expect(await h.tokens.withToken(rejecting('SECRET-T1'))).toBe('SECRET-T2');
    h.clock.t += 1_000;
    const refused = await capture(h.tokens.withToken(rejecting('SECRET-T2')));
    expect(refused).toBeInstanceOf(WechatUnavailableError);
    expect((refused as Error).message).toContain('forced refresh refused (20 a day, 30 s apart)');
    expect(h.lines).toEqual([
      { level: 'info', event: 'wechat.token.refreshed', appid: APPID, forced: false, expiresIn: 7200 },
      { level: 'warn', event: 'wechat.token.rejected', appid: APPID, errcode: 40001 },
      { level: 'info', event: 'wechat.token.refreshed', appid: APPID, forced: true, expiresIn: 7200 },
      { level: 'warn', event: 'wechat.token.rejected', appid: APPID, errcode: 40001 },
      { level: 'error', event: 'wechat.token.force_refused', appid: APPID, count: 1, lastForceAt: 1_800_000_000_000 },
    ]);
    expect(JSON.stringify(h.lines)).not.toContain('SECRET');
  });
});
