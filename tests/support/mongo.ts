import { randomUUID } from 'node:crypto';
import { MongoClient, type Db } from 'mongodb';
import { afterAll, inject } from 'vitest';
import { createMongoStore, migrateMongo } from '../../packages/server/src/store/mongo.js';
import type { Storage } from '../../packages/server/src/store/types.js';

/**
 * A database of its own on the test MongoDB (FerretDB in CI) for one test file: `store()` gives a
 * migrated MongoStore on it (a private client each: separate "instances"), `db()` the raw database
 * for assertions on documents. Everything is closed and the database dropped after the file.
 * `uri` is empty when no test MongoDB is configured (use it in describe.skipIf).
 */
export function testMongo(prefix: string): { uri: string; dbName: string; db(): Db; store(): Promise<Storage> } {
  const uri = inject('mongodbUri');
  const dbName = `${prefix}_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  let admin: MongoClient | null = null;
  const stores: Storage[] = [];
  const client = () => (admin ??= new MongoClient(uri, { serverSelectionTimeoutMS: 10_000 }));
  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
    if (admin) {
      await admin.db(dbName).dropDatabase().catch(() => {});
      await admin.close();
    }
  });
  return {
    uri,
    dbName,
    db: () => client().db(dbName),
    async store() {
      await migrateMongo(client().db(dbName));
      const store = createMongoStore({ uri, dbName, privateClient: true });
      stores.push(store);
      return store;
    },
  };
}
