import { randomUUID } from 'node:crypto';
import { MongoClient } from 'mongodb';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { optionsFromEnv } from '../api/_host.js';
import { createServices } from '../packages/server/src/main.js';
import { silentLogger } from '../packages/server/src/log.js';
import { EmbeddedStore } from '../packages/server/src/store/embedded.js';
import { lazyStorage } from '../packages/server/src/store/lazy.js';
import { migrateMongo, MongoStore } from '../packages/server/src/store/mongo.js';
import type { Storage } from '../packages/server/src/store/types.js';

/**
 * Issue 21: a cold instance's first login connects to the database WHILE WeChat exchanges the code
 * (the exchange needs no storage), instead of after it (docs/BENCH.md "Cold first login"). Asserted
 * by the order of events, never by time.
 */
const uri = inject('mongodbUri');
const env = {
  NODE_ENV: 'test',
  WECHAT_MINI_APPID: 'wx0123456789abcdef',
  WECHAT_MINI_SECRET: '0123456789abcdef0123456789abcdef',
  WECHAT_API_BASE: 'https://api.weixin.qq.com',
  RATE_LIMIT_PER_ADDRESS: '0',
  RATE_LIMIT_PER_APPID: '0',
};

/** jscode2session answered after `release()`: the exchange's start and end are logged. */
function wechat(events: string[], reply: object) {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const fetch = (async (url: URL | string) => {
    const path = new URL(String(url)).pathname;
    events.push(`exchange.start ${path}`);
    await released;
    events.push('exchange.end');
    return new Response(JSON.stringify(reply));
  }) as typeof globalThis.fetch;
  return { fetch, release };
}

const login = (app: { request: (path: string, init: RequestInit) => Response | Promise<Response> }, code: string) =>
  app.request('/api/auth/mini/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code }) });

const ok = { openid: 'o-cold-login', session_key: Buffer.alloc(16, 7).toString('base64') };

describe('a cold login connects while WeChat exchanges the code', () => {
  it('the store module is loaded and warmed before the exchange finishes (was: after it)', async () => {
    const events: string[] = [];
    const inner = new EmbeddedStore({ dir: null });
    const warmed = Object.assign(inner, { warm: () => void events.push('store.warm') });
    const store = lazyStorage('mongodb', async () => {
      events.push('store.load');
      return warmed;
    });
    const { fetch, release } = wechat(events, ok);
    const services = createServices(optionsFromEnv(env), { store, logger: silentLogger, fetch });
    try {
      const pending = login(services.app, 'cold-code-1');
      // WeChat has not answered yet: the store is already loaded and warming
      while (!events.includes('exchange.start /sns/jscode2session')) await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setImmediate(resolve));
      expect(events).toContain('store.load');
      expect(events).toContain('store.warm');
      expect(events).not.toContain('exchange.end');
      release();
      expect((await pending).status).toBe(200);
      expect(events.indexOf('store.warm')).toBeLessThan(events.indexOf('exchange.end'));
    } finally {
      services.stop();
    }
  });

  it('a malformed body warms nothing (validation first)', async () => {
    const events: string[] = [];
    const store = lazyStorage('mongodb', async () => {
      events.push('store.load');
      return new EmbeddedStore({ dir: null });
    });
    const { fetch } = wechat(events, ok);
    const services = createServices(optionsFromEnv(env), { store, logger: silentLogger, fetch });
    try {
      expect((await login(services.app, '?')).status).toBe(400);
      expect(events).toEqual([]);
    } finally {
      services.stop();
    }
  });
});

describe.skipIf(!uri)('MongoDB: the warm-up opens the connection the login then uses', () => {
  const dbName = `cold_login_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  afterAll(async () => {
    const admin = new MongoClient(uri, { serverSelectionTimeoutMS: 10_000 });
    await admin.db(dbName).dropDatabase().catch(() => {});
    await admin.close();
  });

  /** A store on its own client, as a cold instance has it: the driver's events logged. */
  async function coldStore(events: string[], at = uri): Promise<{ store: Storage; client: MongoClient }> {
    const client = new MongoClient(at, { monitorCommands: true, serverSelectionTimeoutMS: 1000 });
    client.on('connectionCreated', () => events.push('db.connection'));
    client.on('commandStarted', (e) => events.push(`db.${e.commandName}`));
    // renew: the URI form's (warm() only runs where the store owns its client)
    const store = new MongoStore(Promise.resolve(client), dbName, true, async () => client);
    return { store, client };
  }

  it('one pooled connection: opened before the exchange ends; the queries wait for it rather than open a second', async () => {
    const setup = new MongoClient(uri, { serverSelectionTimeoutMS: 10_000 });
    await migrateMongo(setup.db(dbName));
    await setup.close();
    const events: string[] = [];
    const { store, client } = await coldStore(events);
    const { fetch, release } = wechat(events, ok);
    const services = createServices(optionsFromEnv(env), { store, logger: silentLogger, fetch });
    try {
      const pending = login(services.app, 'cold-code-2');
      // WeChat answers as soon as the warm-up starts opening its connection (its handshake still under way)
      while (!events.includes('db.connection')) await new Promise((resolve) => setTimeout(resolve, 1));
      release();
      expect((await pending).status).toBe(200);
      expect(events.indexOf('db.connection')).toBeLessThan(events.indexOf('exchange.end'));
      const ops = events.filter((e) => e.startsWith('db.'));
      // a first login: find + insert identities + insert session, all on the warm-up's connection
      expect(ops).toEqual(['db.connection', 'db.ping', 'db.find', 'db.insert', 'db.insert']);
      // warm: nothing more to do — the next login sends no ping
      events.length = 0;
      const next = wechat(events, ok);
      next.release();
      const again = createServices(optionsFromEnv(env), { store, logger: silentLogger, fetch: next.fetch });
      expect((await login(again.app, 'cold-code-3')).status).toBe(200);
      again.stop();
      expect(events.filter((e) => e.startsWith('db.'))).toEqual(['db.find', 'db.insert']);
    } finally {
      services.stop();
      await client.close();
    }
  });

  it('a refused exchange leaves a working connection behind: the next login succeeds on it', async () => {
    const events: string[] = [];
    const { store, client } = await coldStore(events);
    const refused = wechat(events, { errcode: 40029, errmsg: 'invalid code' });
    const services = createServices(optionsFromEnv(env), { store, logger: silentLogger, fetch: refused.fetch });
    try {
      const pending = login(services.app, 'cold-code-4');
      while (!events.includes('db.ping')) await new Promise((resolve) => setTimeout(resolve, 5));
      refused.release();
      const res = await pending;
      expect(res.status).toBe(401);
      expect((await res.json()).error.code).toBe('code_invalid');
      const good = wechat(events, ok);
      good.release();
      const next = createServices(optionsFromEnv(env), { store, logger: silentLogger, fetch: good.fetch });
      expect((await login(next.app, 'cold-code-5')).status).toBe(200);
      next.stop();
      expect(events.filter((e) => e === 'db.connection')).toHaveLength(1);
    } finally {
      services.stop();
      await client.close();
    }
  });

  it('an unreachable database: a refused exchange still answers its own error, promptly, and nothing is left unhandled', async () => {
    const events: string[] = [];
    const { store, client } = await coldStore(events, 'mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=300');
    const refused = wechat(events, { errcode: 40029, errmsg: 'invalid code' });
    refused.release();
    const services = createServices(optionsFromEnv(env), { store, logger: silentLogger, fetch: refused.fetch });
    try {
      const res = await login(services.app, 'cold-code-6');
      expect(res.status).toBe(401);
      expect((await res.json()).error.code).toBe('code_invalid');
      // the warm-up's failure is the next operation's to report: a clear 503, not a crash
      const me = await services.app.request('/api/auth/me', { headers: { authorization: `Bearer ${'a'.repeat(32)}` } });
      expect(me.status).toBe(503);
      expect((await me.json()).error.code).toBe('store_unavailable');
    } finally {
      services.stop();
      await client.close();
    }
  });
});
