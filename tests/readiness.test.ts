import { afterAll, describe, expect, it } from 'vitest';
import { metered } from './support/records.js';
import { silentLogger } from '../packages/server/src/log.js';
import { createWechatLogin } from '../packages/server/src/index.js';
import { optionsFromEnv } from '../api/_host.js';
import { EmbeddedStore } from '../packages/server/src/store/embedded.js';
import { createMongoStore } from '../packages/server/src/store/mongo.js';
import { StoreUnavailableError, type Storage } from '../packages/server/src/store/types.js';
import { testServices } from './support/services.js';

/** Issue 10 findings 7 (readiness) and 10 (misconfiguration → JSON 503, bounded request time). */
const stops: (() => void)[] = [];
afterAll(() => stops.forEach((s) => s()));

function flaky(inner: Storage) {
  const state = { down: false, pings: 0, hangMs: 0 };
  const store = metered(inner, async (call) => {
    if (call === 'ping') state.pings++;
    if (state.hangMs && call === 'sessions.get') await new Promise((r) => setTimeout(r, state.hangMs));
    if (state.down) throw new StoreUnavailableError('database down (test)');
  });
  return { store, state };
}

describe('/api/auth/ready reflects the store (/api/auth/health stays a cheap liveness check)', () => {
  it('200 while the store answers, 503 store_unavailable during an outage, 200 again after it — one ping a second at most', async () => {
    const { store, state } = flaky(new EmbeddedStore({ dir: null }));
    const services = testServices({ store });
    stops.push(services.stop);
    const health = () => services.app.request('/api/auth/ready');
    const up = await health();
    expect(up.status).toBe(200);
    expect(await up.json()).toMatchObject({ ok: true, store: 'embedded' });
    // cached for about a second: a burst of probes costs one ping
    await Promise.all(Array.from({ length: 20 }, health));
    expect(state.pings).toBe(1);

    state.down = true;
    await new Promise((r) => setTimeout(r, 1100));
    const down = await health();
    expect(down.status).toBe(503);
    expect((await down.json()).error.code).toBe('store_unavailable');
    expect(down.headers.get('retry-after')).toBe('1');

    state.down = false;
    await new Promise((r) => setTimeout(r, 1100));
    expect((await health()).status).toBe(200);
  });

  it('503 when MongoDB cannot be reached', async () => {
    const store = createMongoStore({ uri: 'mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=300&connectTimeoutMS=300', privateClient: true });
    const services = testServices({ store });
    stops.push(services.stop, () => void store.close());
    const res = await services.app.request('/api/auth/ready');
    expect(res.status).toBe(503);
    expect((await res.json()).error.code).toBe('store_unavailable');
    // liveness does not touch the store: the process is up, it is the database that is not
    expect((await services.app.request('/api/auth/health')).status).toBe(200);
  });
});

describe('a misconfigured function', () => {
  it('answers every request with the JSON 503 envelope naming the problems, without secrets', async () => {
    const secret = 'not-a-real-secret-1234';
    const app = createWechatLogin(optionsFromEnv({ NODE_ENV: 'production', WECHAT_MINI_APPID: 'wx123', WECHAT_MINI_SECRET: secret, SESSION_KEY_ENCRYPTION_KEYS: 'k1:c2hvcnQ=' }));
    for (const [path, init] of [
      ['/api/auth/health', {}],
      ['/api/auth/mini/login', { method: 'POST', body: '{"code":"x"}', headers: { 'content-type': 'application/json' } }],
      ['/api/auth/me', {}],
    ] as const) {
      const res = await app.handler(new Request(`https://api.example.com${path}`, init));
      expect(res.status).toBe(503);
      expect(res.headers.get('content-type')).toMatch(/application\/json/);
      const text = await res.text();
      expect(text).not.toContain(secret);
      expect(text).not.toContain('c2hvcnQ=');
      const body = JSON.parse(text);
      expect(body.error.code).toBe('server_misconfigured');
      expect(body.error.message).toContain('WECHAT_MINI_APPID');
      expect(body.error.message).toContain('WECHAT_MINI_SECRET');
      expect(body.error.message).toContain('MONGODB_URI');
    }
  });

  it('a seal key that does not parse is named too', async () => {
    const app = createWechatLogin(optionsFromEnv({ NODE_ENV: 'test', WECHAT_MINI_APPID: 'wxd0c0ffee00000001', SESSION_KEY_ENCRYPTION_KEYS: 'k1:c2hvcnQ=', DATA_DIR: '/tmp/h4-misconfig-test' }));
    const res = await app.handler(new Request('https://api.example.com/api/auth/health'));
    expect(res.status).toBe(503);
    expect((await res.json()).error.message).toContain('SESSION_KEY_ENCRYPTION_KEYS');
  });
});

describe('request deadline', () => {
  it('a request stuck on the store is answered 503 request_timeout at the deadline', async () => {
    const { store, state } = flaky(new EmbeddedStore({ dir: null }));
    const services = testServices({ store, logger: silentLogger }, { REQUEST_DEADLINE_MS: '1000' });
    stops.push(services.stop);
    state.hangMs = 4000;
    const started = Date.now();
    const res = await services.app.request('/api/auth/me', { headers: { authorization: `Bearer ${'a'.repeat(32)}` } });
    const took = Date.now() - started;
    expect(res.status).toBe(503);
    expect((await res.json()).error.code).toBe('request_timeout');
    expect(took).toBeGreaterThanOrEqual(950);
    expect(took).toBeLessThan(2000);
  });

  it('the default deadline stays inside Vercel maxDuration (vercel.json)', async () => {
    const { readFileSync } = await import('node:fs');
    const vercel = JSON.parse(readFileSync('vercel.json', 'utf8'));
    const maxDuration = vercel.functions['api/index.ts'].maxDuration as number;
    const services = testServices();
    stops.push(services.stop);
    expect(services.config.requestDeadlineMs).toBeLessThan(maxDuration * 1000);
  });
});
