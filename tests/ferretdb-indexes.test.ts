import { MongoClient } from 'mongodb';
import { afterAll, describe, expect, inject, it } from 'vitest';

/**
 * The test server shaped so benchmarks measure the product, not FerretDB (docs/BENCH.md, "FerretDB v1
 * and the _id scan"): FerretDB v1's pushdown filters with jsonb containment (`@>`), which its btree
 * indexes cannot serve; scripts/ferretdb.mjs gives each one a GIN twin. Here PostgreSQL's own plan
 * (FerretDB's `explain`) must use an index for lookups by `_id` and by an indexed field.
 * Only against FerretDB; a real MongoDB has nothing to check.
 */
const uri = inject('mongodbUri');
const client = uri ? new MongoClient(uri) : null;
const isFerret = client ? Boolean((await client.db('admin').command({ buildInfo: 1 })).ferretdbVersion) : false;

describe.skipIf(!isFerret)('FerretDB test server: index lookups, not table scans', () => {
  const db = client!.db(`ferret_idx_${Date.now().toString(36)}`);
  afterAll(async () => {
    await db.dropDatabase();
    await client!.close();
  });

  it('serves find by _id and by an indexed field from an index', { timeout: 30_000 }, async () => {
    const coll = db.collection<{ _id: string; userId: string }>('sessions');
    await coll.createIndex({ userId: 1 });
    for (let k = 0; k < 3; k++) await coll.insertMany(Array.from({ length: 1000 }, (_, i) => ({ _id: `s${k * 1000 + i}`, userId: `u${i % 100}` })));
    expect(await coll.findOne({ _id: 's1234' })).toEqual({ _id: 's1234', userId: 'u34' });
    expect(await coll.countDocuments({ userId: 'u7' })).toBe(30);
    for (const filter of [{ _id: 's1234' }, { userId: 'u7' }]) {
      const plan = JSON.stringify((await db.command({ explain: { find: 'sessions', filter } })).queryPlanner);
      expect(plan, JSON.stringify(filter)).not.toContain('Seq Scan');
      expect(plan).toMatch(/"Index Name":"[^"]+_gin"/);
    }
  });
});
