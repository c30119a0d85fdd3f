import { randomBytes, randomUUID } from 'node:crypto';
import { MongoClient } from 'mongodb';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { addressKey, RateLimiter } from '../api/_lib/http/rate-limit.js';
import { silentLogger } from '../api/_lib/log.js';
import { createServices } from '../api/_lib/main.js';
import { EmbeddedStore } from '../api/_lib/store/embedded.js';
import { createMongoStore, migrateMongo } from '../api/_lib/store/mongo.js';
import type { Store } from '../api/_lib/store/types.js';
import { postJson, simCode, startStack, type Stack } from './support/stack.js';

/**
 * Issue 10 finding 2: anonymous and WeChat-spending endpoints are rate limited per client address
 * and per AppID (429 too_many_requests + Retry-After), with the counts shared through the store in
 * the background, so the limits hold across instances within about a second and the login path
 * makes no extra database round trip.
 */
const uri = inject('mongodbUri');
const dbName = `limits_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

const WEB_APPID = 'wxd0c0ffee00000002';
function instance(store: Store, env: Record<string, string> = {}) {
  const services = createServices(
    {
      NODE_ENV: 'test',
      WECHAT_MINI_APPID: 'wxd0c0ffee00000001',
      WECHAT_MINI_SECRET: randomBytes(16).toString('hex'),
      WECHAT_API_BASE: 'http://127.0.0.1:1',
      WECHAT_API_FAILOVER: '',
      WECHAT_WEB_APPID: WEB_APPID,
      WECHAT_WEB_SECRET: randomBytes(16).toString('hex'),
      WECHAT_OPEN_BASE: 'http://127.0.0.1:1',
      PUBLIC_BASE_URL: 'https://api.example.com',
      CLIENT_ADDRESS_HEADER: 'x-forwarded-for',
      RATE_LIMIT_PER_ADDRESS: '5',
      RATE_LIMIT_PER_APPID: '1000',
      ...env,
    },
    { store, logger: silentLogger },
  );
  cleanups.push(async () => services.stop());
  return services;
}
const qr = (services: ReturnType<typeof instance>, address: string) =>
  services.app.request('/api/auth/web/qr', { headers: { 'x-forwarded-for': address } });

async function waitFor(check: () => Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * The limits count in fixed one-minute windows (epoch-aligned). A test that counts up to a limit and
 * then expects 429 must not straddle a window's end (the count would start again): it starts at
 * least `spanMs` before the next boundary, waiting for the next window if it is too close.
 */
async function awayFromWindowEdge(spanMs = 8_000): Promise<void> {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < spanMs) await new Promise((r) => setTimeout(r, left + 50));
}

describe('RateLimiter', () => {
  it('refuses at the limit with the seconds left in the window, and does not count refusals', () => {
    let now = 60_000 * 1000 + 15_000; // 15 s into a minute
    const limiter = new RateLimiter({ store: new EmbeddedStore({ dir: null }), clock: () => now });
    const rules = [{ key: 'addr:1.2.3.4', limit: 3, windowMs: 60_000 }];
    expect([1, 2, 3].map(() => limiter.hit(rules).allowed)).toEqual([true, true, true]);
    expect(limiter.hit(rules)).toEqual({ allowed: false, retryAfter: 45 });
    expect(limiter.hit([{ key: 'addr:5.6.7.8', limit: 3, windowMs: 60_000 }]).allowed).toBe(true);
    now += 45_000; // next window
    expect(limiter.hit(rules).allowed).toBe(true);
    limiter.stop();
  });
});

describe('addressKey', () => {
  it('keeps IPv4, unwraps IPv4-mapped IPv6, and groups IPv6 by /64 whatever the spelling', () => {
    expect(addressKey('203.0.113.9')).toBe('203.0.113.9');
    expect(addressKey('::ffff:203.0.113.9')).toBe('203.0.113.9');
    const a = addressKey('2001:db8:abcd:12::1');
    expect(a).toBe('2001:db8:abcd:12::/64');
    expect(addressKey('2001:0db8:abcd:0012:ffff:eeee:dddd:cccc')).toBe(a);
    expect(addressKey('2001:DB8:ABCD:12:0:0:0:2')).toBe(a);
    expect(addressKey('2001:db8:abcd:13::1')).not.toBe(a);
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey('unknown')).toBe('unknown');
  });
});

for (const kind of ['embedded', 'mongodb'] as const) {
  describe(`limits shared by two instances (${kind} store)`, () => {
    const stores = async (): Promise<[Store, Store]> => {
      if (kind === 'embedded') {
        const shared = new EmbeddedStore({ dir: null });
        return [shared, shared];
      }
      const admin = new MongoClient(uri);
      cleanups.push(async () => {
        await admin.db(dbName).dropDatabase();
        await admin.close();
      });
      await migrateMongo(admin.db(dbName));
      // two private clients: two instances that share nothing but the database
      const a = createMongoStore({ uri, dbName, privateClient: true });
      const b = createMongoStore({ uri, dbName, privateClient: true });
      cleanups.push(() => a.close(), () => b.close());
      return [a, b];
    };

    it('an address over its limit on one instance is refused on the other within about a second', async () => {
      await awayFromWindowEdge();
      const [sa, sb] = await stores();
      const one = instance(sa);
      const two = instance(sb);
      const address = `203.0.113.${Math.floor(Math.random() * 200)}`;
      const first = await Promise.all(Array.from({ length: 5 }, () => qr(one, address)));
      expect(first.map((r) => r.status)).toEqual([302, 302, 302, 302, 302]);
      // Within an instance the decision is immediate…
      const refused = await qr(one, address);
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(60);
      expect((await refused.json()).error.code).toBe('too_many_requests');
      // …and the other instance learns the count from the store in the background (~1 s).
      const started = Date.now();
      let admitted = 0;
      await waitFor(async () => {
        const res = await qr(two, address);
        if (res.status === 302) admitted++;
        return res.status === 429;
      });
      expect(Date.now() - started).toBeLessThan(3000);
      expect(admitted).toBeLessThanOrEqual(2);
      // another address is not affected
      expect((await qr(two, '198.51.100.7')).status).toBe(302);
    });

    it('the per-AppID limit caps many addresses together', async () => {
      await awayFromWindowEdge();
      const [sa, sb] = await stores();
      const env = { RATE_LIMIT_PER_ADDRESS: '100', RATE_LIMIT_PER_APPID: '6', WECHAT_WEB_APPID: `wx${randomBytes(8).toString('hex')}` };
      const one = instance(sa, env);
      const two = instance(sb, env);
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push((await qr(one, `192.0.2.${i}`)).status, (await qr(two, `192.0.2.${100 + i}`)).status);
      expect(statuses).toEqual([302, 302, 302, 302, 302, 302]);
      // Each instance learns the other's count from its background sync (~1 s) and then refuses
      // every address: the AppID's budget is spent. Overshoot: what one sync interval lets through.
      for (const services of [one, two]) {
        let admitted = 0;
        let last: Response | null = null;
        const started = Date.now();
        await waitFor(async () => {
          last = await qr(services, `192.0.2.${200 + admitted}`);
          if (last.status === 302) admitted++;
          return last.status === 429;
        });
        expect(Date.now() - started).toBeLessThan(3000);
        // polled every 50 ms: at most one sync interval (1 s) of requests gets through
        expect(admitted).toBeLessThanOrEqual(22);
        expect(last!.headers.get('retry-after')).toMatch(/^\d+$/);
      }
    });
  });
}

describe('limits over HTTP (real sockets)', () => {
  let stack: Stack;
  afterAll(() => stack?.close());

  it('x-forwarded-for is not trusted unless configured: spoofed addresses share the socket address', async () => {
    await awayFromWindowEdge();
    stack = await startStack({ env: { RATE_LIMIT_PER_ADDRESS: '4', RATE_LIMIT_PER_APPID: '1000' } });
    const statuses = [];
    for (let i = 0; i < 6; i++) {
      const res = await fetch(`${stack.apiUrl}/api/auth/oa/start`, { redirect: 'manual', headers: { 'x-forwarded-for': `10.0.0.${i}` } });
      statuses.push(res.status);
    }
    expect(statuses).toEqual([302, 302, 302, 302, 429, 429]);
  });

  it('mini login is limited per address too, and never waits for the counter sync', async () => {
    await awayFromWindowEdge();
    await stack.close();
    const calls: string[] = [];
    const inner = new EmbeddedStore({ dir: null });
    // a store whose counter sync takes 3 s: a login that waited for it would take as long
    const counting = new Proxy(inner, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver);
        if (typeof value !== 'function') return value;
        return async (...args: unknown[]) => {
          calls.push(String(prop));
          if (prop === 'syncCounters') await new Promise((r) => setTimeout(r, 3000));
          return value.apply(target, args);
        };
      },
    }) as Store;
    stack = await startStack({ env: { RATE_LIMIT_PER_ADDRESS: '3', RATE_LIMIT_PER_APPID: '1000' }, overrides: { store: counting } });
    const codes = await Promise.all(Array.from({ length: 4 }, () => simCode(stack, 'walker')));
    for (const code of codes.slice(0, 3)) {
      const started = Date.now();
      expect((await postJson(`${stack.apiUrl}/api/auth/mini/login`, { code })).status).toBe(200);
      expect(Date.now() - started).toBeLessThan(1500);
    }
    const refused = await postJson(`${stack.apiUrl}/api/auth/mini/login`, { code: codes[3] });
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe('too_many_requests');
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    // the counts did reach the store, in the background
    await waitFor(async () => calls.includes('syncCounters'));
  });

  it('a returning login makes the same store calls with limits on as with limits off', async () => {
    const run = async (env: Record<string, string>) => {
      await stack.close();
      const calls: string[] = [];
      const inner = new EmbeddedStore({ dir: null });
      const counting = new Proxy(inner, {
        get(target, prop, receiver) {
          const value = Reflect.get(target, prop, receiver);
          if (typeof value !== 'function') return value;
          return (...args: unknown[]) => {
            if (prop !== 'syncCounters') calls.push(String(prop));
            return value.apply(target, args);
          };
        },
      }) as Store;
      stack = await startStack({ env, overrides: { store: counting } });
      await postJson(`${stack.apiUrl}/api/auth/mini/login`, { code: await simCode(stack, 'back') });
      const code = await simCode(stack, 'back');
      calls.length = 0;
      expect((await postJson(`${stack.apiUrl}/api/auth/mini/login`, { code })).status).toBe(200);
      return [...calls];
    };
    const off = await run({ RATE_LIMIT_PER_ADDRESS: '0', RATE_LIMIT_PER_APPID: '0' });
    const on = await run({ RATE_LIMIT_PER_ADDRESS: '50', RATE_LIMIT_PER_APPID: '50' });
    expect(on).toEqual(off);
  });
});
