import { randomBytes, randomUUID } from 'node:crypto';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DEFAULT_PREFIX, mongoStorage } from '../packages/server/src/mongodb.js';
import { createWechatLogin, miniProgram } from '../packages/server/src/index.js';
import { missingIndexes } from '../packages/server/src/store/mongo.js';
import { runStoreContract } from './store.contract.js';
import { getRecord } from './support/records.js';
import { postJson, simCode, startStack } from './support/stack.js';

/**
 * issue 20: MongoDB from the host — `mongoStorage({ db })` / `({ client, dbName })` / `({ uri })`,
 * each with a collection prefix. Two prefixes share ONE database here: the contract suite runs on
 * each, and neither reads the other's documents.
 */
const uri = inject('mongodbUri');
const dbName = `host_storage_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
let host: MongoClient;

beforeAll(async () => {
  if (!uri) return;
  host = new MongoClient(uri, { serverSelectionTimeoutMS: 10_000 });
});

afterAll(async () => {
  if (!host) return;
  await host.db(dbName).dropDatabase().catch(() => {});
  await host.close();
});

const collections = async () => (await host.db(dbName).listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name);

describe.skipIf(!uri)('mongoStorage with the host\'s own Db / MongoClient and a prefix', () => {
  runStoreContract('mongoStorage({ db, prefix: "ha_" })', async () => {
    const storage = mongoStorage({ db: host.db(dbName), prefix: 'ha_' });
    await storage.migrate();
    return storage;
  });
  runStoreContract('mongoStorage({ client, dbName, prefix: "hb_" })', async () => {
    const storage = mongoStorage({ client: host, dbName, prefix: 'hb_' });
    await storage.migrate();
    return storage;
  });

  it("auth.migrate() creates the indexes of the host's own prefixed storage", async () => {
    const db = host.db(`${dbName}_m`); // its own database: the test below lists every collection of dbName
    const storage = mongoStorage({ db, prefix: 'hm_' });
    expect(await missingIndexes(db, 'hm_')).not.toEqual([]);
    const auth = createWechatLogin({ doors: [miniProgram({ appid: 'wx1234567890abcdef', secret: '0123456789abcdef0123456789abcdef' })], storage, logLevel: 'error' });
    try {
      await auth.migrate();
      expect(await missingIndexes(db, 'hm_')).toEqual([]);
    } finally {
      await auth.close();
      await db.dropDatabase();
    }
  });

  it('keeps every document under its own prefix: nothing written through one prefix is read through the other', async () => {
    const a = mongoStorage({ db: host.db(dbName), prefix: 'xa_' });
    const b = mongoStorage({ db: host.db(dbName), prefix: 'xb_' });
    await Promise.all([a.migrate(), b.migrate()]);
    const now = new Date();
    const user = { id: `u-${randomUUID()}`, nickname: 'A', avatarUrl: null, createdAt: now, updatedAt: now };
    const identity = { key: `oid:wx1:${randomUUID()}`, kind: 'oid' as const, userId: user.id, appid: 'wx1', openid: 'o', unionid: null, sessionKey: null, user, createdAt: now, updatedAt: now };
    const session = { id: randomBytes(32).toString('hex'), userId: user.id, via: 'mini' as const, createdAt: now, expiresAt: new Date(now.getTime() + 60_000) };
    await a.accounts.insertUserIfAbsent(user);
    await a.accounts.insertIdentity(identity);
    await a.sessions.insert(session);
    expect(await a.records.put('rec-1', { n: 1 }, null, null, now)).toBe(1);
    await a.blobs.put({ id: 'blob-1', contentType: 'image/jpeg', data: Buffer.from([1, 2]), createdAt: now });
    const window = Math.floor(now.getTime() / 60_000) * 60_000;
    await a.counters.sync('i1', [{ key: 'k', window, count: 3, expiresAt: new Date(window + 120_000) }], now);

    expect(await b.accounts.getUser(user.id)).toBeNull();
    expect(await b.accounts.getIdentity(identity.key)).toBeNull();
    expect(await b.accounts.listIdentities(user.id)).toEqual([]);
    expect(await b.sessions.get(session.id)).toBeNull();
    expect(await b.sessions.listByUser(user.id)).toEqual([]);
    expect(await getRecord(b, 'rec-1')).toBeNull();
    expect(await b.blobs.get('blob-1')).toBeNull();
    expect(await b.counters.sync('i2', [{ key: 'k', window, count: 0, expiresAt: new Date(window + 120_000) }], now)).toEqual([{ key: 'k', window, total: 0 }]);
    // …and B's own write of the same ids is its own
    expect(await b.records.put('rec-1', { n: 2 }, null, null, now)).toBe(1);
    expect((await getRecord(a, 'rec-1'))?.value).toEqual({ n: 1 });
    expect((await a.accounts.getUser(user.id))?.nickname).toBe('A');

    const names = await collections();
    for (const name of ['users', 'identities', 'sessions', 'records', 'blobs', 'rate_counters']) expect(names).toContain(`xa_${name}`);
    for (const name of ['sessions', 'identities', 'records', 'rate_counters']) expect(names).toContain(`xb_${name}`);
    // no collection without a prefix was created by either
    expect(names.filter((n) => !/^(ha|hb|xa|xb)_/.test(n))).toEqual([]);
    // the indexes (and the TTL index where the server has TTL) are on the prefixed collections
    const keys = (await host.db(dbName).collection('xa_sessions').listIndexes().toArray()).map((i) => JSON.stringify(i.key));
    expect(keys).toEqual(expect.arrayContaining(['{"userId":1}', '{"expiresAt":1}']));
  });

  it('close() never closes the host\'s client, and the client and URI forms default to the prefix "wxlogin_"', async () => {
    expect(DEFAULT_PREFIX).toBe('wxlogin_');
    const fromClient = mongoStorage({ client: host, dbName });
    const fromDb = mongoStorage({ db: host.db(dbName) });
    await fromClient.accounts.insertUserIfAbsent({ id: 'u-default', nickname: null, avatarUrl: null, createdAt: new Date(), updatedAt: new Date() });
    expect((await fromDb.accounts.getUser('u-default'))?.id).toBe('u-default');
    expect(await collections()).toContain('wxlogin_users');
    await fromClient.close();
    await fromDb.close();
    // the host's client still works after both storages closed
    expect(await host.db(dbName).collection('wxlogin_users').countDocuments({ _id: 'u-default' as never })).toBe(1);
    const fromUri = mongoStorage({ uri, dbName });
    expect((await fromUri.accounts.getUser('u-default'))?.id).toBe('u-default');
    await fromUri.close();
  });

  it('refuses a prefix that could not name a collection safely', () => {
    expect(() => mongoStorage({ db: host.db(dbName), prefix: 'a.b$' })).toThrow(/prefix/);
  });

  it('ServerOptions.storage: a login through the server lands in the host database under the prefix', async () => {
    const storage = mongoStorage({ db: host.db(dbName), prefix: 'srv_' });
    await storage.migrate();
    // a seal key of its own: without the store override the server would keep a dev key in .data
    const stack = await startStack({ env: { SESSION_KEY_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}` }, serverOptions: { storage }, overrides: { store: undefined } });
    let userId = '';
    let key = '';
    try {
      const health = await (await fetch(`${stack.apiUrl}/api/auth/health`)).json();
      expect(health.store).toBe('mongodb');
      const login = await postJson(`${stack.apiUrl}/api/auth/mini/login`, { code: await simCode(stack, 'host-user') });
      expect(login.status).toBe(200);
      userId = login.body.user.id;
      key = `oid:${stack.appid}:${stack.sim.openid(stack.appid, 'host-user')}`;
      expect((await host.db(dbName).collection('srv_identities').findOne({ _id: key as never }))?.userId).toBe(login.body.user.id);
      expect(await host.db(dbName).collection('srv_sessions').countDocuments({ userId: login.body.user.id })).toBe(1);
      expect((await fetch(`${stack.apiUrl}/api/auth/me`, { headers: { authorization: `Bearer ${login.body.token}` } })).status).toBe(200);
    } finally {
      await stack.close();
    }
    // the server's close leaves the host's client open: it still reads what the login wrote (a login
    // writes the identity with the user's copy and a session; srv_users gets a record only on a first change)
    expect(userId).not.toBe('');
    expect((await host.db(dbName).collection('srv_identities').findOne({ _id: key as never }))?.userId).toBe(userId);
  });
});

describe('mongoStorage without a server', () => {
  it("the PC-login change stream watches the prefixed records collection; a host client is never put in the URI cache", async () => {
    const unconnected = new MongoClient('mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=200');
    const storage = mongoStorage({ client: unconnected, dbName: 'hostdb', prefix: 'p_' });
    const stream = (await storage.recordChanges!('attempt:', ['status']).open()) as unknown as { namespace: { db: string; collection?: string }; close(): Promise<void> };
    expect(stream.namespace).toMatchObject({ db: 'hostdb', collection: 'p_records' });
    await stream.close();
    const cache = (globalThis as Record<symbol, Map<string, Promise<MongoClient>> | undefined>)[Symbol.for('wechat-login.mongoClients')];
    const cached = cache ? await Promise.all([...cache.values()].map((p) => p.catch(() => null))) : [];
    expect(cached).not.toContain(unconnected);
    await unconnected.close();
  });
});

describe('ServerOptions.storage and the production check', () => {
  it('a host MongoDB storage satisfies the storage requirement without MONGODB_URI; an embedded one does not', async () => {
    const { checkConfig, resolveConfig } = await import('../packages/server/src/config.js');
    const { optionsFromEnv } = await import('../api/_host.js');
    const { EmbeddedStore } = await import('../packages/server/src/store/embedded.js');
    const env = { NODE_ENV: 'production', WECHAT_MINI_APPID: 'wx0123456789abcdef', WECHAT_MINI_SECRET: '0123456789abcdef0123456789abcdef', SESSION_KEY_ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 7).toString('base64')}` };
    const unconnected = new MongoClient('mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=200');
    const problems = (storage?: Parameters<typeof resolveConfig>[0]['storage']) => checkConfig(resolveConfig({ ...optionsFromEnv(env), storage })).problems.join('\n');
    expect(problems()).toContain('MONGODB_URI is not set');
    expect(problems(mongoStorage({ db: unconnected.db('x') }))).not.toContain('MONGODB_URI');
    expect(problems(new EmbeddedStore({ dir: null }))).toContain('MONGODB_URI is not set');
    await unconnected.close();
  });
});
