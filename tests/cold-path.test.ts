import { describe, expect, it, vi } from 'vitest';
import { silentLogger } from '../packages/server/src/log.js';
import { lazyStorage } from '../packages/server/src/store/lazy.js';
import type { Storage } from '../packages/server/src/store/types.js';

// Counts when the MongoDB store module and zod are first imported (vitest calls a mock's factory
// on the module's first import). Nothing else here may import zod: not the simulator, for one.
const loaded = vi.hoisted(() => ({ mongo: 0, zod: 0, zodMini: 0, qrcode: 0, xml: 0, ip2region: 0, vercelRoot: 0 }));
vi.mock('../packages/server/src/store/mongo.js', async (importOriginal) => {
  loaded.mongo++;
  return importOriginal();
});
vi.mock('zod', async (importOriginal) => {
  loaded.zod++;
  return importOriginal();
});
// The mini login's body is checked with zod/mini (http/routes/login-body.ts), not zod.
vi.mock('zod/mini', async (importOriginal) => {
  loaded.zodMini++;
  return importOriginal();
});
// The PC QR code and the official account's push XML parser load on their first use only.
vi.mock('qrcode', async (importOriginal) => {
  loaded.qrcode++;
  return importOriginal();
});
vi.mock('fast-xml-parser', async (importOriginal) => {
  loaded.xml++;
  return importOriginal();
});
// The IP-region databases (~11 MB) load on the phone's PC confirmation page only (docs/SECURITY.md "QR relay").
vi.mock('ip2region', async (importOriginal) => {
  loaded.ip2region++;
  return importOriginal();
});

// @vercel/functions' root module loads every helper of the package (~13 ms of each cold start): only
// the official account's push imports it (waitUntil), and the MongoDB store takes its subpath.
vi.mock('@vercel/functions', async (importOriginal) => {
  loaded.vercelRoot++;
  return importOriginal();
});

const { createServices } = await import('../packages/server/src/main.js');
const { optionsFromEnv } = await import('../api/_host.js');

describe('cold path: what a request loads (docs/BENCH.md, cold start)', () => {
  // An unreachable server: nothing in these tests may need a database answer to pass.
  const env = {
    MONGODB_URI: 'mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=300',
    WECHAT_MINI_APPID: 'wx0123456789abcdef',
    WECHAT_MINI_SECRET: '0123456789abcdef0123456789abcdef',
    WECHAT_API_BASE: 'http://127.0.0.1:1',
    // The rate limiter syncs its counters with the store in the background after a limited request
    // (never on the request's path; tests/limits.test.ts); off here so the counts below are the request's own.
    RATE_LIMIT_PER_ADDRESS: '0',
    RATE_LIMIT_PER_APPID: '0',
  };
  const { app } = createServices(optionsFromEnv(env), { logger: silentLogger });

  it('GET /api/auth/health loads neither the MongoDB driver nor zod, and still names the store', async () => {
    expect(loaded).toEqual({ mongo: 0, zod: 0, zodMini: 0, qrcode: 0, xml: 0, ip2region: 0, vercelRoot: 0 });
    const res = await app.request('/api/auth/health');
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ ok: true, store: 'mongodb' });
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(loaded).toEqual({ mongo: 0, zod: 0, zodMini: 0, qrcode: 0, xml: 0, ip2region: 0, vercelRoot: 0 });
  });

  it('the first login body loads zod/mini once, not zod; a malformed one is still a clear 400 naming the field', async () => {
    for (const body of [{ code: '?' }, { code: 12345678 }, { code: 'abcdefgh', profile: { nickName: 5 } }, []]) {
      const res = await app.request('/api/auth/mini/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      expect(res.status).toBe(400);
      const { error } = await res.json();
      expect(error.code).toBe('invalid_request');
      expect(error.message).toMatch(Array.isArray(body) ? /body must be a JSON object/ : 'nickName' in (body.profile ?? {}) ? /profile\.nickName must be a string/ : /code must be the code from uni\.login/);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    }
    expect(loaded.zodMini).toBe(1);
    expect(loaded.zod).toBe(0);
    expect(loaded.mongo).toBe(0);
    expect(loaded.ip2region).toBe(0);
  });

  it('the first request that needs the store loads the MongoDB module (here: unreachable → 503)', async () => {
    const res = await app.request('/api/auth/me', { headers: { authorization: `Bearer ${'a'.repeat(32)}` } });
    expect(res.status).toBe(503);
    expect((await res.json()).error.code).toBe('store_unavailable');
    expect(loaded.mongo).toBe(1);
    expect(loaded.vercelRoot).toBe(0);
  });

  it('unknown paths keep the nosniff header (set before next(), so 404s and errors carry it)', async () => {
    const res = await app.request('/api/nope');
    expect(res.status).toBe(404);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
  });
});

describe('lazyStorage', () => {
  const fake = () => {
    const calls: unknown[][] = [];
    const store = { kind: 'mongodb', accounts: { getUser: async (id: string) => (calls.push(['getUser', id]), { id }) }, close: async () => void calls.push(['close']) };
    return { store: store as unknown as Storage, calls };
  };

  it('answers kind and close() without loading; loads once on the first method call and forwards it', async () => {
    const { store, calls } = fake();
    const load = vi.fn(async () => store);
    const lazy = lazyStorage('mongodb', load);
    expect(lazy.kind).toBe('mongodb');
    await lazy.close();
    expect(load).not.toHaveBeenCalled();
    expect(await Promise.all([lazy.accounts.getUser('u1'), lazy.accounts.getUser('u2')])).toEqual([{ id: 'u1' }, { id: 'u2' }]);
    expect(load).toHaveBeenCalledTimes(1);
    await lazy.close();
    expect(calls).toEqual([['getUser', 'u1'], ['getUser', 'u2'], ['close']]);
  });

  it('is not a thenable (awaiting it does not call a method), and retries a failed load', async () => {
    const { store } = fake();
    const load = vi.fn().mockRejectedValueOnce(new Error('import failed')).mockResolvedValue(store);
    const lazy = lazyStorage('mongodb', load);
    expect(await lazy).toBe(lazy);
    expect(await lazy.accounts).toBe(lazy.accounts);
    expect(load).not.toHaveBeenCalled();
    await expect(lazy.accounts.getUser('u1')).rejects.toThrow('import failed');
    expect(await lazy.accounts.getUser('u1')).toEqual({ id: 'u1' });
    expect(load).toHaveBeenCalledTimes(2);
  });
});
