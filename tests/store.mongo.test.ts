import { randomBytes, randomUUID } from 'node:crypto';
import { MongoClient } from 'mongodb';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createMongoStore, getMongoClient, migrateMongo, MongoStore } from '../packages/server/src/store/mongo.js';
import { StoreUnavailableError } from '../packages/server/src/store/types.js';
import { runStoreContract } from './store.contract.js';

const uri = inject('mongodbUri');
const dbName = `store_contract_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
let admin: MongoClient | null = null;

afterAll(async () => {
  if (!admin) return;
  await admin.db(dbName).dropDatabase().catch(() => {});
  await admin.close();
});

describe.skipIf(!uri)('MongoStore against a MongoDB-compatible server', () => {
  runStoreContract('mongodb', async () => {
    admin = new MongoClient(uri, { serverSelectionTimeoutMS: 10_000 });
    await migrateMongo(admin.db(dbName));
    return createMongoStore({ uri, dbName, privateClient: true });
  });

  it('migrateMongo is idempotent and creates the indexes', async () => {
    const db = admin!.db(dbName);
    await migrateMongo(db);
    const names = async (c: string) => (await db.collection(c).listIndexes().toArray()).map((i) => JSON.stringify(i.key));
    expect(await names('sessions')).toEqual(expect.arrayContaining(['{"userId":1}', '{"expiresAt":1}']));
    expect(await names('claims')).toEqual(expect.arrayContaining(['{"expiresAt":1}']));
    expect(await names('identities')).toEqual(expect.arrayContaining(['{"userId":1}']));
    for (const c of ['records', 'rate_counters', 'claim_takeovers']) expect(await names(c)).toEqual(expect.arrayContaining(['{"expiresAt":1}']));
    expect(await names('users')).toEqual(expect.arrayContaining(['{"mergedInto":1}']));
  });

  it('migrateMongo removes login records written before they carried expiresAt, and keeps the rest', async () => {
    const db = admin!.db(dbName);
    const old = new Date(Date.now() - 3 * 24 * 3600_000);
    const id = `web-login:${randomUUID()}`;
    const kept = `access_token:${randomUUID()}`;
    const records = db.collection<{ _id: string; rid: string; version: number; value: object; createdAt: Date }>('records');
    await records.insertMany([
      { _id: `${id}@v1`, rid: id, version: 1, value: { next: '/' }, createdAt: old },
      { _id: `${kept}@v1`, rid: kept, version: 1, value: { token: null }, createdAt: old },
    ]);
    await migrateMongo(db);
    expect(await records.findOne({ rid: id })).toBeNull();
    expect(await records.findOne({ rid: kept })).not.toBeNull();
  });

  it('group-commits concurrent session inserts: 20 at once cost 2 insert commands, not 20', async () => {
    // The first insert goes at once (a lone login never waits); the 19 that arrive while it is on
    // the wire go together in the next command, each acknowledged only when that command is.
    const client = new MongoClient(uri, { monitorCommands: true, serverSelectionTimeoutMS: 10_000 });
    const inserts: number[] = [];
    client.on('commandStarted', (e) => {
      if (e.commandName === 'insert' && e.command.insert === 'sessions') inserts.push((e.command.documents as unknown[]).length);
    });
    const store = new MongoStore(Promise.resolve(client), dbName, true);
    const now = new Date();
    const sessions = Array.from({ length: 20 }, () => ({ id: randomBytes(32).toString('hex'), userId: 'u-batch', via: 'mini' as const, createdAt: now, expiresAt: new Date(now.getTime() + 60_000) }));
    await Promise.all(sessions.map((s) => store.sessions.insert(s)));
    expect(inserts).toEqual([1, 19]);
    for (const s of sessions) expect(await store.sessions.get(s.id)).toEqual(s);
    await store.close();
  });

  it('stores documents keyed by _id, without leaking driver fields', async () => {
    const store = createMongoStore({ uri, dbName, privateClient: true });
    const now = new Date();
    const user = await store.accounts.insertUserIfAbsent({ id: `u-${randomUUID()}`, nickname: null, avatarUrl: null, createdAt: now, updatedAt: now });
    expect(Object.keys(user).sort()).toEqual(['avatarUrl', 'createdAt', 'id', 'nickname', 'updatedAt']);
    const raw = await admin!.db(dbName).collection('users').findOne({ _id: user.id as never });
    expect(raw?._id).toBe(user.id);
    await store.close();
  });
});

describe('MongoStore without a server', () => {
  it('rejects with StoreUnavailableError quickly when the server is unreachable', async () => {
    const store = createMongoStore({ uri: 'mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=500', dbName: 'unreachable', privateClient: true });
    expect(store.kind).toBe('mongodb');
    const started = Date.now();
    const error = await store.accounts.getUser('u1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect(Date.now() - started).toBeLessThan(3000);
    await expect(store.records.put('k', {}, null, new Date(), new Date())).rejects.toBeInstanceOf(StoreUnavailableError);
    await store.close();
  });

  it('caches one client per URI on globalThis', async () => {
    const u = 'mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=200';
    const a = await getMongoClient(u);
    expect(await getMongoClient(u)).toBe(a);
    expect(a.options.maxPoolSize).toBe(10); // issue 19: measured one hop away (docs/DEPLOY.md)
    expect(a.options.serverSelectionTimeoutMS).toBe(200);
    expect(a.options.socketTimeoutMS).toBe(3000); // 2 s queue + 3 s read; a retry's 2 s selection + 3 s read: inside the 9 s deadline (issues 12, 19)
    expect(a.options.maxIdleTimeMS).toBe(5000);
    await a.close();
    expect(await getMongoClient(u)).not.toBe(a);
    await (await getMongoClient(u)).close();
  });
});
