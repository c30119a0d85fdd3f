// FerretDB v1.24 (PostgreSQL backend): one `update` command whose statements match N existing
// documents holds N PostgreSQL connections at once (msg_update.go defers each statement's iterator
// close to the end of the command); at N >= pool_max_conns (50) it waits for a connection that only
// it could release, forever, and every later operation that needs PostgreSQL waits behind it.
import { MongoClient } from 'mongodb';
const uri = process.argv[2] ?? 'mongodb://127.0.0.1:27028/';
const N = Number(process.argv[3] ?? 60);
const client = new MongoClient(uri, { socketTimeoutMS: 5000, serverSelectionTimeoutMS: 3000 });
const coll = client.db('bulk_repro').collection('c');
await coll.deleteMany({});
await coll.insertMany(Array.from({ length: N }, (_, i) => ({ _id: `k${i}`, count: 0 })));
const t0 = Date.now();
const res = await coll
  .bulkWrite(Array.from({ length: N }, (_, i) => ({ replaceOne: { filter: { _id: `k${i}` }, replacement: { count: 1 }, upsert: true } })), { ordered: false })
  .then((r) => `ok, ${r.modifiedCount} modified`, (e) => `${e.name}: ${e.message}`);
console.log(`bulkWrite of ${N} replaceOne on existing documents: ${res} (${Date.now() - t0} ms)`);
const fresh = new MongoClient(uri, { serverSelectionTimeoutMS: 3000, socketTimeoutMS: 3000 });
const t1 = Date.now();
console.log('a new client\'s ping:', await fresh.db('admin').command({ ping: 1 }).then(() => 'ok', (e) => `${e.name}: ${e.message}`), `(${Date.now() - t1} ms)`);
await fresh.close();
await client.close(true);
