/**
 * `wlu-wxlogin-server/mongodb`: the storage ports on MongoDB, beside the host's own data.
 *
 *   mongoStorage({ db })                    // the host's own Db
 *   mongoStorage({ client, dbName })        // or its MongoClient
 *   mongoStorage({ uri, dbName })           // or a connection string
 *
 * Every collection (and so its indexes, TTL and the PC-login change stream's source) is named
 * `<prefix><name>` (`wxlogin_users`, `wxlogin_sessions`, …), so the product's documents never mix
 * with the host's. A host-given client or Db is used as it is: never cached, never renewed, never
 * closed by `close()` (the host owns its lifecycle). Only the URI form keeps the process-wide client
 * per URI (warm serverless invocations reuse one pool) — close() leaves that shared client open too.
 * Indexes are created by `migrate()` (idempotent), never on a request's path.
 *
 * The embedded store stays the zero-config default in development (no `storage` option).
 */
import type { Db, MongoClient } from 'mongodb';
import { createMongoStore, DEFAULT_DB, MongoStore } from './store/mongo.js';
import type { Storage } from './store/types.js';

export type { Storage } from './store/types.js';

/** The collection prefix when none is given. */
export const DEFAULT_PREFIX = 'wxlogin_';
/** The database of the client form when none is named (the URI form: the URI's, else this). */

interface Common {
  /** Prefix of every collection name. @default 'wxlogin_' */
  prefix?: string | undefined;
}

export type MongoStorageOptions =
  /** the host's own database handle */
  | (Common & { db: Db })
  /** the host's own client; `dbName` @default 'wechat_login' */
  | (Common & { client: MongoClient; dbName?: string | undefined })
  /** a connection string (a process-wide client per URI); `dbName` @default the URI's database, else 'wechat_login' */
  | (Common & { uri: string; dbName?: string | undefined });

/** Storage ports on MongoDB (store/types.ts Storage), with `migrate()` creating the indexes. */
export function mongoStorage(options: MongoStorageOptions): Storage & { migrate(): Promise<void> } {
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  if (!/^[A-Za-z0-9_]*$/.test(prefix)) throw new TypeError(`mongoStorage: prefix must be letters, digits and _ (got "${prefix}")`);
  if ('db' in options) return new MongoStore(null, options.db.databaseName, false, undefined, { prefix, db: options.db });
  if ('client' in options) {
    const dbName = options.dbName ?? DEFAULT_DB;
    return new MongoStore(null, dbName, false, undefined, { prefix, db: options.client.db(dbName) });
  }
  return createMongoStore({ uri: options.uri, ...(options.dbName ? { dbName: options.dbName } : {}), prefix });
}
