import { randomBytes, randomUUID } from 'node:crypto';
import { metered } from './support/records.js';
import { MongoClient } from 'mongodb';
import { afterAll, afterEach, beforeEach, describe, expect, inject, it, vi } from 'vitest';
import { Hono } from 'hono';
import { addressKey, rateLimit, RateLimiter } from '../packages/server/src/http/rate-limit.js';
import { canonicalAddress, clientAddress, parseTrustedProxies, type ClientAddressSettings } from '../packages/server/src/http/client-address.js';
import { checkConfig } from '../packages/server/src/config.js';
import { cookieBrowser } from './support/cookie-browser.js';
import { silentLogger } from '../packages/server/src/log.js';
import { createServices } from '../packages/server/src/main.js';
import { optionsFromEnv } from '../api/_host.js';
import { loadConfig } from '../scripts/lib/load-config.js';
import { EmbeddedStore } from '../packages/server/src/store/embedded.js';
import { createMongoStore, migrateMongo } from '../packages/server/src/store/mongo.js';
import type { Storage } from '../packages/server/src/store/types.js';
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
function instance(store: Storage, env: Record<string, string> = {}) {
  const services = createServices(
    optionsFromEnv({
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
    }),
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

describe("a cold instance's first counter sync", () => {
  // Issue 21: on a cold instance the first request's own queries run on a new connection pool; the
  // limiter's first sync (a delete, an insert and a find on rate_counters) waits until that request
  // is answered instead of competing with it — and still runs within one interval without it.
  // Fake timers (Date.now too): the limiter's clock and timers move only when the test says so.
  const syncs = () => {
    const calls: number[] = [];
    const store = { counters: { sync: async () => (calls.push(Date.now()), []) } } as unknown as Pick<Storage, 'counters'>;
    return { calls, store };
  };
  const rules = [{ key: 'addr:203.0.113.1', limit: 10, windowMs: 60_000 }];
  const T0 = 60_000 * 1000 + 15_000; // 15 s into a minute: no window edge in these tests
  beforeEach(() => {
    vi.useFakeTimers({ now: T0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('runs once the first limited request is answered, not while it is in flight', async () => {
    const { calls, store } = syncs();
    const limiter = new RateLimiter({ store, syncIntervalMs: 400 });
    const app = new Hono();
    let seenInHandler = -1;
    app.use('*', rateLimit(limiter, { perAddress: 10, perAppid: 0, perPcAttempt: 0, address: { source: 'x-forwarded-for', hops: 1, trustedProxies: [] } }, (c) => c.text('refused', 429)));
    app.get('/x', async (c) => {
      await new Promise((r) => setTimeout(r, 60)); // the request's own queries
      seenInHandler = calls.length;
      return c.text('ok');
    });
    const answer = app.request('/x');
    await vi.advanceTimersByTimeAsync(60);
    expect((await answer).status).toBe(200);
    expect(seenInHandler).toBe(0);
    await vi.advanceTimersByTimeAsync(20);
    expect(calls.length).toBe(1);
    // at the answer (a zero-delay timer: fake time moves by at most 1 ms), not one interval (400 ms) after the request
    expect(calls[0]).toBeGreaterThanOrEqual(T0 + 60);
    expect(calls[0]).toBeLessThanOrEqual(T0 + 61);
    limiter.stop();
  });

  it('without an answer, one interval after the first request at the latest; later syncs one interval apart', async () => {
    const { calls, store } = syncs();
    const limiter = new RateLimiter({ store, syncIntervalMs: 150 });
    limiter.hit(rules);
    await vi.advanceTimersByTimeAsync(60);
    expect(calls.length).toBe(0);
    await vi.advanceTimersByTimeAsync(150);
    expect(calls.length).toBe(1);
    limiter.hit(rules);
    limiter.answered(); // only an instance's FIRST sync is brought forward
    await vi.advanceTimersByTimeAsync(20);
    expect(calls.length).toBe(1);
    await vi.advanceTimersByTimeAsync(200);
    expect(calls.length).toBe(2);
    expect(calls).toEqual([T0 + 150, T0 + 300]);
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
    const stores = async (): Promise<[Storage, Storage]> => {
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
      // The AppID's budget is charged just before a WeChat call (here: a jscode2session that finds
      // WeChat unreachable, 503), by a login that passed validation.
      const env = { RATE_LIMIT_PER_ADDRESS: '100', RATE_LIMIT_PER_APPID: '6', WECHAT_MINI_APPID: `wx${randomBytes(8).toString('hex')}` };
      const one = instance(sa, env);
      const two = instance(sb, env);
      const login = (services: ReturnType<typeof instance>, address: string) =>
        services.app.request('/api/auth/mini/login', { method: 'POST', headers: { 'content-type': 'application/json', 'x-forwarded-for': address }, body: JSON.stringify({ code: randomBytes(12).toString('hex') }) });
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push((await login(one, `192.0.2.${i}`)).status, (await login(two, `192.0.2.${100 + i}`)).status);
      expect(statuses).toEqual([503, 503, 503, 503, 503, 503]);
      // Each instance learns the other's count from its background sync (~1 s) and then refuses
      // every address: the AppID's budget is spent. Overshoot: what one sync interval lets through.
      for (const services of [one, two]) {
        let admitted = 0;
        let last: Response | null = null;
        const started = Date.now();
        await waitFor(async () => {
          last = await login(services, `192.0.2.${200 + admitted}`);
          if (last.status !== 429) admitted++;
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
    const counting = metered(inner, async (call) => {
      calls.push(call);
      if (call === 'counters.sync') await new Promise((r) => setTimeout(r, 3000));
    });
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
    await waitFor(async () => calls.includes('counters.sync'));
  });

  it('a returning login makes the same store calls with limits on as with limits off', async () => {
    const run = async (env: Record<string, string>) => {
      await stack.close();
      const calls: string[] = [];
      const inner = new EmbeddedStore({ dir: null });
      const counting = metered(inner, (call) => {
        if (call !== 'counters.sync') calls.push(call);
      });
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

describe('canonicalAddress', () => {
  it('strips ports, brackets and zones, unwraps IPv4-mapped IPv6 in every spelling, lower-cases IPv6, and refuses garbage', () => {
    expect(canonicalAddress('203.0.113.9')).toBe('203.0.113.9');
    expect(canonicalAddress(' 203.0.113.9:51234 ')).toBe('203.0.113.9');
    expect(canonicalAddress('[2001:DB8::1]:443')).toBe('2001:db8::1');
    expect(canonicalAddress('[2001:db8::1]')).toBe('2001:db8::1');
    expect(canonicalAddress('2001:0DB8:0000:0000:0000:0000:0000:0001')).toBe('2001:db8::1');
    expect(canonicalAddress('::ffff:203.0.113.9')).toBe('203.0.113.9');
    expect(canonicalAddress('::FFFF:203.0.113.9')).toBe('203.0.113.9');
    expect(canonicalAddress('::ffff:cb00:7109')).toBe('203.0.113.9');
    expect(canonicalAddress('[::ffff:203.0.113.9]:8080')).toBe('203.0.113.9');
    expect(canonicalAddress('fe80::1%eth0')).toBe('fe80::1');
    for (const junk of ['unknown', '', 'a.b.c.d', '1.2.3', '999.1.1.1', '01.2.3.4', '<script>', '1.2.3.4:99999', 'evil.example.com']) expect(canonicalAddress(junk)).toBeNull();
  });
});

describe('clientAddress', () => {
  const app = (settings: ClientAddressSettings) => {
    const hono = new Hono();
    hono.get('/', (c) => c.text(String(clientAddress(c, settings))));
    return (headers: Record<string, string>, peer = '127.0.0.1') =>
      Promise.resolve(hono.request('/', { headers }, { incoming: { socket: { remoteAddress: peer } } })).then((r) => r.text());
  };

  it('takes the hops-th x-forwarded-for entry from the right: two trusted hops (CDN → nginx) give the client, not the CDN edge', async () => {
    const two = app({ source: 'x-forwarded-for', hops: 2, trustedProxies: [] });
    // client-written junk on the left, then what the CDN appended (the client), then what nginx appended (the CDN edge)
    expect(await two({ 'x-forwarded-for': '6.6.6.6, 198.51.100.7, 192.0.2.10' })).toBe('198.51.100.7');
    expect(await two({ 'x-forwarded-for': '198.51.100.7:50123, 192.0.2.10' })).toBe('198.51.100.7');
    // fewer entries than hops (nginx reached without the CDN): the left-most, which a proxy wrote
    expect(await two({ 'x-forwarded-for': '198.51.100.8' })).toBe('198.51.100.8');
    const one = app({ source: 'x-forwarded-for', hops: 1, trustedProxies: [] });
    expect(await one({ 'x-forwarded-for': '6.6.6.6, [2001:DB8::5]:443' })).toBe('2001:db8::5');
    // garbage where the address should be: the TCP peer
    expect(await one({ 'x-forwarded-for': '198.51.100.7, unknown' }, '::ffff:10.1.2.3')).toBe('10.1.2.3');
    expect(await one({}, '::ffff:10.1.2.3')).toBe('10.1.2.3');
    // x-real-ip: one value, canonicalised
    expect(await app({ source: 'x-real-ip', hops: 1, trustedProxies: [] })({ 'x-real-ip': '::ffff:198.51.100.9' })).toBe('198.51.100.9');
  });

  it('with trusted proxy ranges, believes the header only on a connection from them', async () => {
    const behind = app({ source: 'x-forwarded-for', hops: 1, trustedProxies: parseTrustedProxies('10.0.0.0/8, fd00::/8').ranges });
    expect(await behind({ 'x-forwarded-for': '198.51.100.7' }, '10.20.30.40')).toBe('198.51.100.7');
    expect(await behind({ 'x-forwarded-for': '198.51.100.7' }, '::ffff:10.20.30.40')).toBe('198.51.100.7');
    expect(await behind({ 'x-forwarded-for': '198.51.100.7' }, 'fd00::1')).toBe('198.51.100.7');
    // someone who reaches the origin directly cannot pick an address
    expect(await behind({ 'x-forwarded-for': '198.51.100.7' }, '203.0.113.50')).toBe('203.0.113.50');
    expect(parseTrustedProxies('10.0.0.0/8,nope,1.2.3.4/33,::1').invalid).toEqual(['nope', '1.2.3.4/33']);
  });
});

describe('client address behind proxies, over the API (issue 18 §5)', () => {
  const store = () => new EmbeddedStore({ dir: null });
  const start = (path: string, services: ReturnType<typeof instance>, xff: string) =>
    services.app.request(path, { headers: { 'x-forwarded-for': xff } }, { incoming: { socket: { remoteAddress: '127.0.0.1' } } });

  it('CLIENT_ADDRESS_HOPS=2: clients behind one CDN edge get their own buckets', async () => {
    await awayFromWindowEdge();
    const services = instance(store(), { CLIENT_ADDRESS_HOPS: '2' });
    const edge = '192.0.2.10';
    const statuses = [];
    for (let i = 0; i < 8; i++) statuses.push((await start('/api/auth/web/qr', services, `198.51.100.${i}, ${edge}`)).status);
    expect(statuses).toEqual(Array(8).fill(302));
    // one client is still limited, whatever it writes on the left
    const own = [];
    for (let i = 0; i < 6; i++) own.push((await start('/api/auth/web/qr', services, `10.9.9.${i}, 198.51.100.200, ${edge}`)).status);
    expect(own).toEqual([302, 302, 302, 302, 302, 429]);
  });

  it('ports and IPv4-mapped spellings of one address share one bucket', async () => {
    await awayFromWindowEdge();
    const services = instance(store());
    const spellings = ['198.51.100.77:1001', '198.51.100.77:1002', '[::ffff:198.51.100.77]:1003', '::FFFF:198.51.100.77', '::ffff:c633:644d', '198.51.100.77'];
    const statuses = [];
    for (const s of spellings) statuses.push((await start('/api/auth/web/qr', services, s)).status);
    expect(statuses).toEqual([302, 302, 302, 302, 302, 429]);
  });

  it('CLIENT_ADDRESS_TRUSTED_PROXIES: a request that reaches the origin directly cannot pick its address (nor lock out a victim\'s)', async () => {
    await awayFromWindowEdge();
    const services = instance(store(), { CLIENT_ADDRESS_TRUSTED_PROXIES: '10.0.0.0/8' });
    const victim = '198.51.100.90';
    // the attacker connects straight to the origin and claims to be the victim, again and again
    for (let i = 0; i < 6; i++) await start('/api/auth/web/qr', services, victim);
    // the victim, through the real proxy, is not locked out
    const res = await services.app.request('/api/auth/web/qr', { headers: { 'x-forwarded-for': victim } }, { incoming: { socket: { remoteAddress: '10.0.0.2' } } });
    expect(res.status).toBe(302);
  });

  it('refuses a CLIENT_ADDRESS_TRUSTED_PROXIES entry that is not an address or range, and a header name that is not one', () => {
    expect(checkConfig(loadConfig({ CLIENT_ADDRESS_TRUSTED_PROXIES: '10.0.0.0/8, office-proxy' })).problems.join('\n')).toMatch(/CLIENT_ADDRESS_TRUSTED_PROXIES: office-proxy/);
    expect(checkConfig(loadConfig({ CLIENT_ADDRESS_HEADER: 'x forwarded' })).problems.join('\n')).toMatch(/CLIENT_ADDRESS_HEADER must be/);
    // a header believed from anyone, outside development: the operator is told the origin must be closed
    const open = checkConfig(loadConfig({ VERCEL_ENV: 'preview', CLIENT_ADDRESS_HEADER: 'x-forwarded-for' }));
    expect(open.notes.join('\n')).toMatch(/origin must be reachable only through your proxy/);
    // Vercel's default (x-forwarded-for, which Vercel writes itself, one entry): nothing to say
    const vercel = loadConfig({ VERCEL: '1', VERCEL_ENV: 'preview' });
    expect(vercel.clientAddress).toEqual({ source: 'x-forwarded-for', hops: 1, trustedProxies: [] });
    expect(checkConfig(vercel).notes.join('\n')).not.toMatch(/CLIENT_ADDRESS_HEADER/);
  });

  it("CLIENT_ADDRESS_HEADER may name a CDN's own header (behind a CDN, Vercel's x-forwarded-for holds the CDN edge)", async () => {
    await awayFromWindowEdge();
    const services = instance(store(), { CLIENT_ADDRESS_HEADER: 'X-Client-IP' });
    const edge = { 'x-forwarded-for': '192.0.2.10' };
    const statuses = [];
    for (let i = 0; i < 7; i++) statuses.push((await services.app.request('/api/auth/web/qr', { headers: { ...edge, 'x-client-ip': `198.51.100.${i}` } })).status);
    expect(statuses).toEqual(Array(7).fill(302));
  });
});

describe('the per-AppID limit is charged only by requests that spend WeChat quota (issue 18 §5)', () => {
  let stack: Stack;
  afterAll(() => stack?.close());

  it('50 addresses sending junk do not lock the app\'s other users out; real logins still meet the limit', async () => {
    await awayFromWindowEdge(15_000);
    stack = await startStack({ env: { RATE_LIMIT_PER_ADDRESS: '100', RATE_LIMIT_PER_APPID: '5', CLIENT_ADDRESS_HEADER: 'x-forwarded-for' } });
    const junk: number[] = [];
    for (let i = 0; i < 50; i++) {
      const from = { 'x-forwarded-for': `203.0.113.${i + 1}` };
      junk.push((await postJson(`${stack.apiUrl}/api/auth/mini/login`, { code: 'x' }, from)).status);
      // the browser doors: starts and forged callbacks spend no WeChat call either
      for (const path of ['/api/auth/web/qr', '/api/auth/oa/start', `/api/auth/web/callback?code=abc&state=${'A'.repeat(32)}`, '/api/auth/pc/scan?a=nope']) {
        const res = await fetch(`${stack.apiUrl}${path}`, { redirect: 'manual', headers: from });
        await res.arrayBuffer();
        junk.push(res.status);
      }
    }
    expect(junk).not.toContain(429);
    // someone else logs in: WeChat is asked, and it works
    const login = (n: number) => simCode(stack, `appid-user-${n}`).then((code) => postJson(`${stack.apiUrl}/api/auth/mini/login`, { code }, { 'x-forwarded-for': `198.51.100.${n}` }));
    const statuses = [];
    for (let n = 1; n <= 5; n++) statuses.push((await login(n)).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200]);
    // the app's budget (5 WeChat calls a minute) holds for real logins, from any address
    const refused = await login(6);
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe('too_many_requests');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    // …and the web door refuses its start no more than before: it spends no WeChat call
    expect((await fetch(`${stack.apiUrl}/api/auth/web/qr`, { redirect: 'manual', headers: { 'x-forwarded-for': '198.51.100.99' } })).status).toBe(302);
  });
});

describe("a PC's own status requests do not share the address bucket (issue 18 §5)", () => {
  let stack: Stack;
  afterAll(() => stack?.close());

  it('18 waiting PCs behind one office NAT keep polling, logins from that NAT still work, and each attempt has its own bound', async () => {
    await awayFromWindowEdge(20_000);
    stack = await startStack({ env: { RATE_LIMIT_PER_ADDRESS: '30', RATE_LIMIT_PER_APPID: '1000', RATE_LIMIT_PER_PC_ATTEMPT: '20', CLIENT_ADDRESS_HEADER: 'x-forwarded-for' } });
    const nat = { 'x-forwarded-for': '198.51.100.250' };
    const pcs = [];
    for (let i = 0; i < 18; i++) {
      const pc = cookieBrowser(null);
      const res = await pc.request(`${stack.apiUrl}/api/auth/pc/attempt`, { method: 'POST', headers: nat });
      expect(res.status).toBe(200);
      pcs.push(pc);
    }
    // every PC polls its status 10 times: 180 requests from the NAT's one address
    const polled: number[] = [];
    for (let round = 0; round < 10; round++) {
      for (const pc of pcs) {
        const res = await pc.request(`${stack.apiUrl}/api/auth/pc/status`, { headers: nat });
        await res.arrayBuffer();
        polled.push(res.status);
      }
    }
    expect(polled.filter((s) => s !== 200)).toEqual([]);
    // the NAT's logins still have their budget (18 attempts + 1 login of 30)
    const code = await simCode(stack, 'nat-user');
    expect((await postJson(`${stack.apiUrl}/api/auth/mini/login`, { code }, nat)).status).toBe(200);
    // one attempt is bounded on its own: 10 more fine, the 21st refused with Retry-After
    const pc = pcs[0]!;
    const more: number[] = [];
    for (let i = 0; i < 11; i++) {
      const res = await pc.request(`${stack.apiUrl}/api/auth/pc/status`, { headers: nat });
      await res.arrayBuffer();
      more.push(res.status);
      if (res.status === 429) expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
    }
    expect(more).toEqual([...Array(10).fill(200), 429]);
    // without an attempt cookie a status request is an ordinary anonymous one (address bucket)
    const stranger = await fetch(`${stack.apiUrl}/api/auth/pc/status`, { headers: { 'x-forwarded-for': '198.51.100.251' } });
    expect(stranger.status).toBe(400);
  });
});
