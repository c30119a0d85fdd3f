import { getRecord } from './support/records.js';
import { MongoClientClosedError, type MongoClient } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { MongoStore } from '../packages/server/src/store/mongo.js';

/**
 * MongoStore.noteFailure (issue 19): a client that fails is replaced once. Operations still in
 * flight on the replaced client fail too ("client closed"); they must not replace the new,
 * healthy client again — else each renewal closes the client the next operations run on.
 */
function fakeClient(findOne: () => Promise<unknown>): MongoClient {
  return { db: () => ({ collection: () => ({ findOne }) }) } as unknown as MongoClient;
}

describe('MongoStore client renewal', () => {
  it('operations that fail on an already replaced client do not replace its successor', async () => {
    const stale = Promise.resolve(fakeClient(async () => {
      throw new MongoClientClosedError();
    }));
    const renewedFrom: Promise<MongoClient>[] = [];
    const store = new MongoStore(stale, 'db', false, (from) => {
      renewedFrom.push(from);
      return Promise.resolve(fakeClient(async () => null));
    });
    // three operations in flight on the client when it is closed under them
    const results = await Promise.allSettled([getRecord(store, 'a'), getRecord(store, 'b'), getRecord(store, 'c')]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(renewedFrom).toEqual([stale]);
    // the successor serves the next operation
    await expect(getRecord(store, 'a')).resolves.toBeNull();
    expect(renewedFrom).toHaveLength(1);
  });
});
