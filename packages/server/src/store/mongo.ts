import {
  Binary,
  MongoClient,
  MongoError,
  MongoNetworkError,
  MongoServerError,
  MongoServerSelectionError,
  type Collection,
  type Db,
  type Document,
  type MongoClientOptions,
} from 'mongodb';
// the subpath: the package's root module loads every helper it has (cache, OIDC, purge, …)
import { attachDatabasePool } from '@vercel/functions/db-connections';
import { mongoRecordChanges, type RecordChangeSource } from './mongo-changes.js';
import {
  DuplicateKeyError,
  LEGACY_TEMPORARY_RECORD,
  StoreUnavailableError,
  type BlobRecord,
  type CounterTotal,
  type CounterWrite,
  type EncryptedValue,
  type IdentityPatch,
  type IdentityRecord,
  type PhoneRecord,
  type SessionRecord,
  type AccountPort,
  type BlobPort,
  type CounterPort,
  type RecordPort,
  type SessionPort,
  type Storage,
  type StoredRecord,
  type StoreStats,
  type UserPatch,
  type UserRecord,
} from './types.js';

/**
 * MongoDB store (official driver). Also run against FerretDB v1 on PostgreSQL in the test suite.
 *
 * Portability rule learnt from FerretDB v1: its updates and deletes are "query, then write by _id"
 * (no atomic compare-and-write), so a filtered update such as `{_id, version: 3}` can succeed for
 * several concurrent writers. The only reliable atomic primitive on both servers is the unique
 * `_id` of an insert. Every operation that must not let two racers both win (claim, the takeover of
 * an expired record, RecordPort.put) is therefore built on insertOne + duplicate key 11000.
 * Plain last-writer-wins updates (profile fields, session expiry) use ordinary updates.
 *
 * TTL indexes are created by migrateMongo where supported (real MongoDB), but expiry is always
 * checked in queries: FerretDB ignores/rejects TTL options, and MongoDB's TTL monitor runs only
 * once a minute anyway.
 */

export const DEFAULT_DB = 'wechat_login';
const DUPLICATE_KEY = 11000;
/** at most this many sessions in one group-committed insert (well under MongoDB's 100,000 writes per batch) */
const SESSION_BATCH_MAX = 256;

/** An identity document: the record's fields, its key under `_id`. */
interface IdentityDoc extends Omit<IdentityRecord, 'key'> {
  _id: string;
}

/** A user document: the record's fields under `_id`. */
interface UserDoc extends Omit<UserRecord, 'id'> {
  _id: string;
}

/** A copy of a user record carried by identity and session documents (types.ts IdentityRecord.user): the record's fields as they are. */
type SnapshotDoc = UserRecord;

interface BlobDoc {
  _id: string;
  contentType: string;
  data: Binary;
  ownerId?: string | null;
  createdAt: Date;
}

interface SessionDoc {
  _id: string;
  userId: string;
  via: SessionRecord['via'];
  createdAt: Date;
  expiresAt: Date;
  user?: SnapshotDoc | null;
  wxSessionKey?: { identity: string; sealed: EncryptedValue } | null;
}

/** One document per version of a record: `_id` = `<id>@v<version>` (see MongoStore.records.put). */
interface RecordVersionDoc {
  _id: string;
  rid: string;
  version: number;
  value: Record<string, unknown>;
  createdAt: Date;
  /** temporary records only: read as absent after it, deleted by the TTL index or the sweep */
  expiresAt?: Date;
}

/** One instance's count for one rate-limit key and window; only that instance writes it. */
interface CounterDoc {
  /** `<key>|<window>|<instance>` */
  _id: string;
  key: string;
  window: number;
  instance: string;
  count: number;
  expiresAt: Date;
}

/** Collections whose documents carry `expiresAt` (TTL index or sweep). `claims`/`claim_takeovers`: one-time claims before they became records (swept). */
const EXPIRING_COLLECTIONS = ['sessions', 'claims', 'claim_takeovers', 'records', 'rate_counters'] as const;

/** Old record versions are kept this long, which bounds how stale a compare-and-set may be. */
const RECORD_VERSION_RETENTION_MS = 10 * 60_000;

// ---------------------------------------------------------------------------------------------
// Client

const CLIENTS = Symbol.for('wechat-login.mongoClients');
type ClientCache = Map<string, Promise<MongoClient>>;

/**
 * Time budget of one MongoDB operation, sized to the request deadline (9 s, inside Vercel's 10 s
 * `maxDuration`) and measured one network hop away (issue 19, docs/DEPLOY.md "Pool settings"): a
 * wait for a pooled connection (2 s) plus one socket read (3 s) is 5 s, so a database that stops
 * answering becomes a 503 store_unavailable, not a request held to the deadline; a retry after a
 * network error (server selection 2 s + read 3 s) still ends inside it. A returning login's own
 * round trips take ≤ 0.1 s at 30 ms each way, so 3 s is 30 times that. The driver's `timeoutMS`
 * (CSOT) is NOT used: mongodb 7.9 marks it "deprecated: has no effect" and warns on every client.
 */
export const MONGO_TIMEOUTS = { serverSelectionTimeoutMS: 2000, connectTimeoutMS: 2000, socketTimeoutMS: 3000, waitQueueTimeoutMS: 2000 } as const;
/**
 * Connections per process. 10, not 5: at 30 ms each way 32 concurrent returning logins waited
 * p50 534 ms for one of 5 connections, 334 ms with 10 (218 ms with 20); a change stream (PC login)
 * holds one of them. A long-lived server far from its cluster may raise it in the URI (maxPoolSize=20).
 */
export const MONGO_MAX_POOL = 10;
const CLOSED_CLIENT_NAMES = new Set(['MongoTopologyClosedError', 'MongoNotConnectedError', 'MongoClientClosedError']);
/** server selection failing this long with no success between: a new client (MongoStore.noteFailure) */
export const CLIENT_RENEW_AFTER_MS = 2000;
/** Idle pool connections close after this; `attachDatabasePool` keeps a suspended instance alive this long. */
export const MONGO_MAX_IDLE_MS = 5000;

/** Options for serverless use; anything the URI sets itself (e.g. `serverSelectionTimeoutMS`) wins. */
export function clientOptions(uri: string): MongoClientOptions {
  const defaults: MongoClientOptions = {
    appName: 'wechat-login',
    maxPoolSize: MONGO_MAX_POOL,
    minPoolSize: 0,
    maxIdleTimeMS: MONGO_MAX_IDLE_MS,
    ...MONGO_TIMEOUTS,
  };
  // The driver lets object options override the URI; we want the URI to be able to tune them.
  const query = uri.includes('?') ? uri.slice(uri.indexOf('?') + 1) : '';
  const inUri = new Set([...new URLSearchParams(query).keys()].map((k) => k.toLowerCase()));
  return Object.fromEntries(Object.entries(defaults).filter(([k]) => !inUri.has(k.toLowerCase()))) as MongoClientOptions;
}

/**
 * On Vercel Fluid compute, `attachDatabasePool` keeps the instance alive until idle pool
 * connections are released (maxIdleTimeMS) instead of leaking them when it is suspended.
 * Outside Vercel (VERCEL_URL/VERCEL_REGION unset) it only registers a listener that does nothing.
 */
function attachVercelPool(client: MongoClient): void {
  attachDatabasePool(client);
}

/**
 * The process-wide client for `uri`, cached on globalThis so warm serverless invocations (and
 * module re-evaluation) reuse one pool. No connection is opened here: the driver connects on the
 * first operation, so a down server surfaces as StoreUnavailableError on that operation.
 */
export function getMongoClient(uri: string): Promise<MongoClient> {
  const g = globalThis as typeof globalThis & { [CLIENTS]?: ClientCache };
  const cache = (g[CLIENTS] ??= new Map());
  let pending = cache.get(uri);
  if (!pending) {
    pending = (async () => {
      const client = new MongoClient(uri, clientOptions(uri));
      // A closed client cannot run operations again (MongoNotConnectedError in driver v7): once
      // someone closes it (e.g. scripts/migrate.ts), stop handing it out.
      const close = client.close.bind(client);
      client.close = (force?: boolean) => {
        if (cache.get(uri) === pending) cache.delete(uri);
        return close(force);
      };
      attachVercelPool(client);
      return client;
    })();
    cache.set(uri, pending);
    pending.catch(() => cache.delete(uri));
  }
  return pending;
}

/**
 * Replaces the process-wide client for `uri` when it is still `stale` (another store may have
 * renewed it already), and closes the stale one in the background. See MongoStore.noteFailure.
 */
export function renewMongoClient(uri: string, stale: Promise<MongoClient>): Promise<MongoClient> {
  const g = globalThis as typeof globalThis & { [CLIENTS]?: ClientCache };
  const cache = (g[CLIENTS] ??= new Map());
  const current = cache.get(uri);
  if (current && current !== stale) return current; // renewed already
  cache.delete(uri);
  void stale.then((client) => client.close(true)).catch(() => {});
  return getMongoClient(uri);
}

function dbNameFromUri(uri: string): string | null {
  const match = /^mongodb(?:\+srv)?:\/\/[^/]*\/([^?]+)/.exec(uri);
  return match?.[1] ? decodeURIComponent(match[1]) : null;
}

export interface MongoStoreOptions {
  uri: string;
  /** default: the database named in the URI, else `wechat_login` */
  dbName?: string;
  /**
   * false (default): use the process-wide cached client (serverless); close() leaves it open.
   * true: a private client that the store owns and close() closes (tests, scripts).
   */
  privateClient?: boolean;
  /** collection name prefix (default '': the names used before prefixes existed) */
  prefix?: string;
}

export function createMongoStore(options: MongoStoreOptions): MongoStore {
  const dbName = options.dbName ?? dbNameFromUri(options.uri) ?? DEFAULT_DB;
  if (options.privateClient) {
    const make = async () => {
      const c = new MongoClient(options.uri, clientOptions(options.uri));
      attachVercelPool(c);
      return c;
    };
    return new MongoStore(
      make(),
      dbName,
      true,
      (stale) => {
        void stale.then((client) => client.close(true)).catch(() => {});
        return make();
      },
      { prefix: options.prefix },
    );
  }
  return new MongoStore(getMongoClient(options.uri), dbName, false, (stale) => renewMongoClient(options.uri, stale), { prefix: options.prefix });
}

// ---------------------------------------------------------------------------------------------
// Errors

/** Server error codes that mean "not reachable / not able to serve now", not "bad request". */
const UNAVAILABLE_CODES = new Set([
  1, // InternalError: a server-side fault (FerretDB answers so when its PostgreSQL is down)
  6, // HostUnreachable
  7, // HostNotFound
  50, // MaxTimeMSExpired
  89, // NetworkTimeout
  91, // ShutdownInProgress
  134, // ReadConcernMajorityNotAvailableYet
  189, // PrimarySteppedDown
  262, // ExceededTimeLimit
  9001, // SocketException
  10107, // NotWritablePrimary
  11600, // InterruptedAtShutdown
  11602, // InterruptedDueToReplStateChange
  13435, // NotPrimaryNoSecondaryOk
  13436, // NotPrimaryOrSecondary
]);
const UNAVAILABLE_NAMES = new Set([
  'MongoServerSelectionError',
  'MongoNetworkError',
  'MongoNetworkTimeoutError',
  'MongoPoolClearedError',
  'MongoPoolClosedError',
  'MongoWaitQueueTimeoutError',
  'MongoOperationTimeoutError',
  'MongoTopologyClosedError',
  'MongoNotConnectedError',
  'MongoServerClosedError',
  'MongoClientClosedError',
]);

function isDuplicateKey(error: unknown): boolean {
  return error instanceof MongoError && (error.code === DUPLICATE_KEY || (error as { code?: unknown }).code === 11001);
}

/** Socket errors the driver may let through unwrapped (e.g. "This socket has been ended by the other party"). */
const SOCKET_ERRNOS = new Set(['EPIPE', 'ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ERR_SOCKET_CLOSED', 'ERR_STREAM_DESTROYED', 'ERR_STREAM_WRITE_AFTER_END']);

function isUnavailable(error: unknown): boolean {
  if (error instanceof MongoServerSelectionError || error instanceof MongoNetworkError) return true;
  if (!(error instanceof MongoError) && error instanceof Error && SOCKET_ERRNOS.has(String((error as NodeJS.ErrnoException).code))) return true;
  // insertMany/bulkWrite wrap a network error or timeout in a MongoBulkWriteError (errorResponse)
  const wrapped = (error as { errorResponse?: unknown } | null)?.errorResponse;
  if (wrapped instanceof Error && wrapped !== error && isUnavailable(wrapped)) return true;
  if (!(error instanceof MongoError)) return false;
  if (UNAVAILABLE_NAMES.has(error.name)) return true;
  if (error.hasErrorLabel('RetryableWriteError') || error.hasErrorLabel('ResetPool') || error.hasErrorLabel('SystemOverloadedError')) return true;
  return error instanceof MongoServerError && typeof error.code === 'number' && UNAVAILABLE_CODES.has(error.code);
}

function mapError(error: unknown): unknown {
  if (error instanceof DuplicateKeyError || error instanceof StoreUnavailableError) return error;
  if (isUnavailable(error)) {
    return new StoreUnavailableError(`MongoDB unavailable: ${(error as Error).message}`, { cause: error });
  }
  return error;
}

// ---------------------------------------------------------------------------------------------
// Mapping (never hand out driver documents)

function toIdentity(doc: IdentityDoc): IdentityRecord {
  return {
    key: doc._id,
    kind: doc.kind,
    userId: doc.userId,
    appid: doc.appid ?? null,
    openid: doc.openid ?? null,
    unionid: doc.unionid ?? null,
    sessionKey: doc.sessionKey ? { kid: doc.sessionKey.kid, data: doc.sessionKey.data } : null,
    ...(doc.user !== undefined && { user: doc.user ? fromSnapshot(doc.user) : null }),
    createdAt: doc.createdAt,
    updatedAt: doc.updatedAt,
  };
}

function toSnapshot(user: UserRecord): SnapshotDoc {
  return { ...userFields(user), id: user.id, nickname: user.nickname, avatarUrl: user.avatarUrl, createdAt: user.createdAt, updatedAt: user.updatedAt };
}

function fromSnapshot(doc: SnapshotDoc): UserRecord {
  return toUser({ ...doc, _id: doc.id } as UserDoc);
}

function fromIdentity(identity: IdentityRecord): IdentityDoc {
  return {
    _id: identity.key,
    kind: identity.kind,
    userId: identity.userId,
    appid: identity.appid,
    openid: identity.openid,
    unionid: identity.unionid,
    sessionKey: identity.sessionKey ? { kid: identity.sessionKey.kid, data: identity.sessionKey.data } : null,
    ...(identity.user !== undefined && { user: identity.user ? toSnapshot(identity.user) : null }),
    createdAt: identity.createdAt,
    updatedAt: identity.updatedAt,
  };
}

function copyPhone(phone: PhoneRecord | null | undefined): PhoneRecord | null {
  return phone
    ? { phoneNumber: phone.phoneNumber, purePhoneNumber: phone.purePhoneNumber, countryCode: phone.countryCode, verifiedAt: phone.verifiedAt }
    : null;
}

/** Optional fields (`phone`, `mergedInto`) appear only when stored, as in the embedded store. */
function toUser(doc: UserDoc): UserRecord {
  return {
    id: doc._id,
    nickname: doc.nickname ?? null,
    avatarUrl: doc.avatarUrl ?? null,
    ...(doc.phone !== undefined && { phone: copyPhone(doc.phone) }),
    ...(doc.mergedInto !== undefined && { mergedInto: doc.mergedInto ?? null }),
    createdAt: doc.createdAt,
    updatedAt: doc.updatedAt,
  };
}

/** The fields to write for a user or a user patch; `undefined` fields are left out (never null). */
function userFields(source: UserPatch): Partial<UserDoc> {
  const out: Partial<UserDoc> = pick(source, ['nickname', 'avatarUrl', 'mergedInto']);
  if (source.phone !== undefined) out.phone = copyPhone(source.phone);
  return out;
}

/** Exactly the fields of a sealed session_key, whatever else an object carries (driver fields, extras). */
function copySealedKey(key: { identity: string; sealed: EncryptedValue }): { identity: string; sealed: EncryptedValue } {
  return { identity: key.identity, sealed: { kid: key.sealed.kid, data: key.sealed.data } };
}

function toSession(doc: SessionDoc): SessionRecord {
  return {
    id: doc._id,
    userId: doc.userId,
    via: doc.via,
    createdAt: doc.createdAt,
    expiresAt: doc.expiresAt,
    ...(doc.user !== undefined && { user: doc.user ? fromSnapshot(doc.user) : null }),
    ...(doc.wxSessionKey && { wxSessionKey: copySealedKey(doc.wxSessionKey) }),
  };
}

function fromSession(session: SessionRecord): SessionDoc {
  return {
    _id: session.id,
    userId: session.userId,
    via: session.via,
    createdAt: session.createdAt,
    expiresAt: session.expiresAt,
    ...(session.user !== undefined && { user: session.user ? toSnapshot(session.user) : null }),
    ...(session.wxSessionKey && { wxSessionKey: copySealedKey(session.wxSessionKey) }),
  };
}

/**
 * The indexes of the documents a bulk insert refused, by error: duplicate keys apart. Null when the
 * error says nothing per document (a network error, a timeout, a server error): then no document of
 * the batch is known to be stored. The driver reports a timeout on insertMany as a
 * MongoBulkWriteError with an EMPTY writeErrors list; that is not "all inserted" (issue 19).
 */
function refusedInserts(error: unknown): { index: number; duplicate: boolean }[] | null {
  const raw = (error as { writeErrors?: { index: number; code?: number }[] | { index: number; code?: number } }).writeErrors;
  if (!raw) return null;
  const list = Array.isArray(raw) ? raw : [raw];
  if (!list.length || (error as { errorResponse?: unknown }).errorResponse instanceof MongoNetworkError) return null;
  return list.map((e) => ({ index: e.index, duplicate: e.code === DUPLICATE_KEY }));
}

/** Only the listed fields, and only those present: `undefined` means "leave as is". */
function pick<T extends object>(patch: T, fields: readonly (keyof T)[]): Partial<T> {
  const out: Partial<T> = {};
  for (const field of fields) if (patch[field] !== undefined) out[field] = patch[field];
  return out;
}

// ---------------------------------------------------------------------------------------------
// Store

export class MongoStore implements Storage {
  readonly kind = 'mongodb' as const;
  private dbPromise!: Promise<Db>;
  /** when server selection first failed with no success since (0: it did not) */
  private selectionFailingSince = 0;
  /** when an operation last succeeded (0: never) */
  private lastOkAt = 0;
  /** the warm-up ping in flight (warm()); settles, never rejects */
  private warming: Promise<void> | null = null;
  /** every collection's name starts with it ('' = the names used before prefixes existed) */
  readonly prefix: string;

  /**
   * `clientPromise`: the client to use (`ownsClient`: close() closes it); or `options.db`, a host's own
   * database handle, used as it is (never closed, never renewed).
   */
  constructor(
    private clientPromise: Promise<MongoClient> | null,
    private readonly dbName: string,
    private readonly ownsClient: boolean,
    /** a new client in place of `stale` (see noteFailure); absent: never renewed */
    private readonly renew?: (stale: Promise<MongoClient>) => Promise<MongoClient>,
    options: { prefix?: string; db?: Db } = {},
  ) {
    this.prefix = options.prefix ?? '';
    if (options.db) {
      this.dbPromise = Promise.resolve(options.db);
    } else {
      this.useClient(clientPromise);
    }
  }

  /** `<prefix><name>`: the collection as this storage names it. */
  collection<T extends Document = Document>(db: Db, name: string): Collection<T> {
    return db.collection<T>(`${this.prefix}${name}`);
  }

  /** Inserted versions of the records whose id starts with `idPrefix`, as a change stream (flows/attempt/change-stream.ts). */
  recordChanges(idPrefix: string, valueFields: string[]): RecordChangeSource {
    return mongoRecordChanges({ records: async () => this.collection(await this.dbPromise, 'records'), prefix: idPrefix, valueFields });
  }

  /** This storage's database (a host's Db, or its client's). */
  db(): Promise<Db> {
    return this.dbPromise;
  }

  private useClient(clientPromise: Promise<MongoClient> | null): void {
    if (!clientPromise) return;
    this.clientPromise = clientPromise;
    this.dbPromise = clientPromise.then((client) => client.db(this.dbName));
    // Rejections are reported by the operations that await it.
    this.dbPromise.catch(() => {});
  }

  private async run<T>(fn: (db: Db) => Promise<T>): Promise<T> {
    // A warm-up in flight is opening the pool's first connection: wait for it rather than open a
    // second one beside it (on Atlas a second TLS handshake and authentication).
    if (this.warming) await this.warming;
    return this.exec(fn);
  }

  private async exec<T>(fn: (db: Db) => Promise<T>): Promise<T> {
    const used = this.dbPromise;
    try {
      const result = await fn(await used);
      if (used === this.dbPromise) this.selectionFailingSince = 0;
      this.lastOkAt = Date.now();
      return result;
    } catch (error) {
      this.noteFailure(error, used);
      throw mapError(error);
    }
  }

  /**
   * A client whose server selection keeps failing for CLIENT_RENEW_AFTER_MS is replaced by a new
   * one. Measured one hop away (issue 19, docs/BENCH.md): after a cut of the network, the driver's
   * server monitor sometimes never checked the server again (a heartbeat started, then nothing: no
   * socket, no timeout, no event), so every operation failed server selection long after the
   * database was back, until a restart. A new client has a new monitor. During a real outage this
   * only makes a new (unconnected) client every few seconds.
   */
  private noteFailure(error: unknown, used: Promise<Db>): void {
    // An operation that ran on a client already replaced says nothing about its successor (it
    // failed because that client was closed): renewing again would close the healthy one.
    if (!this.renew || used !== this.dbPromise) return;
    // The shared client was closed under us (another store renewed it): take the current one.
    if (!this.ownsClient && error instanceof MongoError && CLOSED_CLIENT_NAMES.has(error.name)) {
      this.selectionFailingSince = 0;
      if (this.clientPromise) this.useClient(this.renew(this.clientPromise));
      return;
    }
    if (!(error instanceof MongoServerSelectionError)) return;
    const now = Date.now();
    if (!this.selectionFailingSince) {
      this.selectionFailingSince = now;
      return;
    }
    if (now - this.selectionFailingSince < CLIENT_RENEW_AFTER_MS) return;
    this.selectionFailingSince = 0;
    if (this.clientPromise) this.useClient(this.renew(this.clientPromise));
  }

  private identityDocs(db: Db): Collection<IdentityDoc> {
    return this.collection<IdentityDoc>(db, 'identities');
  }

  private userDocs(db: Db): Collection<UserDoc> {
    return this.collection<UserDoc>(db, 'users');
  }

  private sessionDocs(db: Db): Collection<SessionDoc> {
    return this.collection<SessionDoc>(db, 'sessions');
  }

  private recordDocs(db: Db): Collection<RecordVersionDoc> {
    return this.collection<RecordVersionDoc>(db, 'records');
  }

  readonly sessions: SessionPort = {
    /**
     * Group commit: a session insert that arrives while another is on the wire waits for it and then
     * goes with every other waiting one in ONE unordered insert command. Nothing waits when nothing is
     * on the wire (a lone login pays no delay); under load, N concurrent logins share one round trip
     * and one database transaction instead of N (docs/BENCH.md). Each caller still learns its own
     * outcome: it resolves only once its document is acknowledged, and a document the server refused
     * fails only its own caller (DuplicateKeyError), the others stay inserted.
     */
    insert: async (session: SessionRecord): Promise<void> => {
      const doc = fromSession(session);
      await new Promise<void>((resolve, reject) => {
        this.pendingSessions.push({ doc, resolve, reject });
        if (!this.flushingSessions) void this.flushSessions();
      });
    },
    get: async (id: string): Promise<SessionRecord | null> => {
      return this.run(async (db) => {
        const doc = await this.sessionDocs(db).findOne({ _id: id });
        return doc ? toSession(doc) : null;
      });
    },
    updateExpiration: async (id: string, expiresAt: Date): Promise<void> => {
      await this.run((db) => this.sessionDocs(db).updateOne({ _id: id }, { $set: { expiresAt } }));
    },
    delete: async (id: string): Promise<void> => {
      await this.run((db) => this.sessionDocs(db).deleteOne({ _id: id }));
    },
    deleteByUser: async (userId: string): Promise<void> => {
      await this.run((db) => this.sessionDocs(db).deleteMany({ userId }));
    },
    listByUser: async (userId: string): Promise<SessionRecord[]> => {
      return this.run(async (db) => {
        const docs = await this.sessionDocs(db)
          .find({ userId })
          .sort({ createdAt: 1 })
          .toArray();
        return docs.map(toSession);
      });
    },
    setUserCopy: (user) => this.setUserCopy('sessions', user),
    reassign: async (fromUserId: string, toUserId: string): Promise<void> => {
      await this.run((db) => this.sessionDocs(db).updateMany({ userId: fromUserId }, { $set: { userId: toUserId } }));
    },
  };

  readonly accounts: AccountPort = {
    getIdentity: async (key: string): Promise<IdentityRecord | null> => {
      return this.run(async (db) => {
        const doc = await this.identityDocs(db).findOne({ _id: key });
        return doc ? toIdentity(doc) : null;
      });
    },
    insertIdentity: async (identity: IdentityRecord): Promise<void> => {
      await this.run(async (db) => {
        try {
          await this.identityDocs(db).insertOne(fromIdentity(identity));
        } catch (error) {
          if (isDuplicateKey(error)) throw new DuplicateKeyError(identity.key);
          throw error;
        }
      });
    },
    insertIdentities: async (list: IdentityRecord[]): Promise<void> => {
      await this.run(async (db) => {
        try {
          await this.identityDocs(db).insertMany(list.map(fromIdentity), { ordered: true });
        } catch (error) {
          if (!isDuplicateKey(error)) throw error;
          const index = (error as { writeErrors?: { index: number }[] | { index: number } }).writeErrors;
          const first = Array.isArray(index) ? index[0]?.index : index?.index;
          throw new DuplicateKeyError(list[first ?? 0]?.key ?? '');
        }
      });
    },
    updateIdentity: async (key: string, patch: IdentityPatch, now: Date): Promise<IdentityRecord | null> => {
      return this.run(async (db) => {
        const set: Partial<IdentityDoc> = { ...pick(patch, ['sessionKey', 'unionid']), updatedAt: now };
        if (set.sessionKey) set.sessionKey = { kid: set.sessionKey.kid, data: set.sessionKey.data };
        const doc = await this.identityDocs(db).findOneAndUpdate({ _id: key }, { $set: set }, { returnDocument: 'after' });
        return doc ? toIdentity(doc) : null;
      });
    },
    listIdentities: async (userId: string): Promise<IdentityRecord[]> => {
      return this.run(async (db) => {
        const docs = await this.identityDocs(db).find({ userId }).sort({ _id: 1 }).toArray();
        return docs.map(toIdentity);
      });
    },
    /**
     * A filtered update: atomic on MongoDB. On FerretDB v1 two racing reassignments of the same
     * identity could both report true (last writer wins); mergeAccounts only ever moves towards the
     * account the unique `uid:` key names, so such a race ends in the same state.
     */
    reassignIdentity: async (key: string, fromUserId: string, toUserId: string, now: Date): Promise<boolean> => {
      return this.run(async (db) => {
        const res = await this.identityDocs(db).updateOne({ _id: key, userId: fromUserId }, { $set: { userId: toUserId, updatedAt: now } });
        return res.matchedCount === 1;
      });
    },
    deleteIdentity: async (key: string): Promise<void> => {
      await this.run((db) => this.identityDocs(db).deleteOne({ _id: key }));
    },
    getUser: async (id: string): Promise<UserRecord | null> => {
      return this.run(async (db) => {
        const doc = await this.userDocs(db).findOne({ _id: id });
        return doc ? toUser(doc) : this.userCopy(db, id);
      });
    },
    /**
     * insertOne, and on a duplicate key read the stored user. Not an upsert with `$setOnInsert`:
     * FerretDB v1 drops top-level null fields from `$setOnInsert` on upsert (e.g. `mergedInto: null`
     * would not be stored), and concurrent upserts fail with 11000 there anyway. Correct on both.
     */
    insertUserIfAbsent: async (user: UserRecord): Promise<UserRecord> => {
      return this.run(async (db) => {
        const users = this.userDocs(db);
        const doc: UserDoc = { _id: user.id, nickname: user.nickname, avatarUrl: user.avatarUrl, ...userFields(user), createdAt: user.createdAt, updatedAt: user.updatedAt };
        try {
          await users.insertOne(doc);
          return toUser(doc);
        } catch (error) {
          if (!isDuplicateKey(error)) throw error;
        }
        const stored = await users.findOne({ _id: user.id });
        // Only possible if the user was deleted between our insert and this read.
        if (!stored) throw new DuplicateKeyError(user.id);
        return toUser(stored);
      });
    },
    updateUser: async (id: string, patch: UserPatch, now: Date): Promise<UserRecord | null> => {
      return this.run(async (db) => {
        const set: Partial<UserDoc> = { ...userFields(patch), updatedAt: now };
        const users = this.userDocs(db);
        const doc = await users.findOneAndUpdate({ _id: id }, { $set: set }, { returnDocument: 'after' });
        if (doc) return toUser(doc);
        // First change of an account known only by its copy: write the record from the copy, then patch.
        const copy = await this.userCopy(db, id);
        if (!copy) return null;
        try {
          await users.insertOne({ ...userFields(copy), _id: id, nickname: copy.nickname, avatarUrl: copy.avatarUrl, createdAt: copy.createdAt, updatedAt: copy.updatedAt });
        } catch (error) {
          if (!isDuplicateKey(error)) throw error; // a concurrent first change wrote it
        }
        const patched = await users.findOneAndUpdate({ _id: id }, { $set: set }, { returnDocument: 'after' });
        return patched ? toUser(patched) : null;
      });
    },
    deleteUser: async (id: string): Promise<void> => {
      await this.run((db) => this.userDocs(db).deleteOne({ _id: id }));
    },
    setUserCopy: (user) => this.setUserCopy('identities', user),
    listMergedInto: async (id: string): Promise<UserRecord[]> => {
      return this.run(async (db) => (await this.userDocs(db).find({ mergedInto: id }).toArray()).map(toUser));
    },
  };

  readonly blobs: BlobPort = {
    put: async (blob: BlobRecord): Promise<void> => {
      await this.run((db) =>
        this.collection<BlobDoc>(db, 'blobs').replaceOne(
          { _id: blob.id },
          { contentType: blob.contentType, data: new Binary(blob.data), ownerId: blob.ownerId ?? null, createdAt: blob.createdAt },
          { upsert: true },
        ),
      );
    },
    get: async (id: string): Promise<BlobRecord | null> => {
      return this.run(async (db) => {
        const doc = await this.collection<BlobDoc>(db, 'blobs').findOne({ _id: id });
        if (!doc) return null;
        // A copy: the driver's bytes may be a view into a larger response buffer.
        return { id: doc._id, contentType: doc.contentType, data: Buffer.from(doc.data.value()), ownerId: doc.ownerId ?? null, createdAt: doc.createdAt };
      });
    },
    delete: async (id: string): Promise<void> => {
      await this.run((db) => this.collection<BlobDoc>(db, 'blobs').deleteOne({ _id: id }));
    },
  };

  readonly counters: CounterPort = {
    /**
     * This instance's counts are replaced by a delete and an insert of its own documents (one command
     * each, whatever the number of keys), then everyone's are read: three round trips per sync, on no
     * request's path. Not a bulk of upserting replaceOne: FerretDB v1 holds one PostgreSQL connection
     * per matched statement of an `update` command until the command ends, so a sync of >= 50 keys
     * (50 client addresses in a second; its pool has 50) waited forever for a connection only it
     * could free, and every later operation of every client waited behind it (issue 19,
     * docs/BENCH.md "One hop away"). Between the two writes another instance may read this one's
     * counts as absent: a limit can then be exceeded by one sync interval's worth, as documented.
     * Only this instance writes these `_id`s; a duplicate key means a write of an earlier sync that
     * this process gave up on landed late: the sync fails and the next one writes again.
     */
    sync: async (instance: string, counts: CounterWrite[], now: Date): Promise<CounterTotal[]> => {
      if (!counts.length) return [];
      return this.run(async (db) => {
        const counters = this.collection<CounterDoc>(db, 'rate_counters');
        const mine: CounterDoc[] = counts.map((c) => ({ _id: `${c.key}|${c.window}|${instance}`, key: c.key, window: c.window, instance, count: c.count, expiresAt: c.expiresAt }));
        await counters.deleteMany({ _id: { $in: mine.map((d) => d._id) } });
        await counters.insertMany(mine, { ordered: false });
        const keys = [...new Set(counts.map((c) => c.key))];
        const docs = await counters
          .find({ key: { $in: keys }, expiresAt: { $gt: now } }, { projection: { key: 1, window: 1, count: 1 } })
          .toArray();
        const totals = new Map<string, number>();
        for (const d of docs) totals.set(`${d.key}|${d.window}`, (totals.get(`${d.key}|${d.window}`) ?? 0) + d.count);
        return counts.map((c) => ({ key: c.key, window: c.window, total: totals.get(`${c.key}|${c.window}`) ?? 0 }));
      });
    },
  };

  /**
   * Each version of a record is its own document with `_id` = `<id>@v<version>`: writing version
   * n+1 is an insert, which exactly one concurrent writer can win (a filtered update `{version: n}`
   * is not atomic on FerretDB v1). An expired record (at the caller's `now`) is taken over the same
   * way, by inserting its next version. Versions older than RECORD_VERSION_RETENTION_MS are pruned,
   * except the latest; a writer whose read is older than that could in theory re-create a pruned
   * version. On MongoDB the TTL monitor may delete an expired record's versions while racers take it
   * over (one inserts v1, another v(n+1)): both win. The one-time claims built on put (OAuth state
   * use) guard a record that is live until the claim expires, so nothing relies on that case.
   */
  readonly records: RecordPort = {
    get: async (ids, at) => {
      const unique = [...new Set(ids)];
      if (!unique.length) return new Map();
      return this.run(async (db) => {
        const records = this.recordDocs(db);
        const projection = { rid: 1, version: 1, value: 1, expiresAt: 1 };
        // One id: an indexed equality read of the newest version. Several: every stored version of
        // them (a few each, pruned), the newest picked here — no server-side sort, which FerretDB v1
        // does slowly, and it does not push `$in` down to PostgreSQL (flows/attempt/notify.ts).
        const docs =
          unique.length === 1
            ? [await records.findOne({ rid: unique[0]! }, { sort: { version: -1 }, projection })].filter((d): d is RecordVersionDoc => !!d)
            : await records.find({ rid: { $in: unique } }, { projection }).toArray();
        const newest = new Map<string, RecordVersionDoc>();
        for (const doc of docs) if ((newest.get(doc.rid)?.version ?? 0) < doc.version) newest.set(doc.rid, doc);
        const found = new Map<string, StoredRecord>();
        // Expiry is checked here with the caller's clock: a TTL index may be missing (FerretDB) or not have run yet.
        const now = at.getTime();
        for (const [rid, doc] of newest) if (!doc.expiresAt || doc.expiresAt.getTime() > now) found.set(rid, { value: doc.value, version: doc.version, expiresAt: doc.expiresAt ?? null });
        return found;
      });
    },
    put: async (id, value, expected, expiresAt, at) => {
      return this.run(async (db) => {
        const records = this.recordDocs(db);
        // Early answer when someone already moved past the expected version (also guards against
        // re-creating a pruned version).
        const latest = await records.findOne({ rid: id }, { sort: { version: -1 }, projection: { version: 1, expiresAt: 1 } });
        const expired = !!latest?.expiresAt && latest.expiresAt.getTime() <= at.getTime();
        if (expected === null ? latest && !expired : latest?.version !== expected) return null;
        const version = (latest?.version ?? 0) + 1;
        const now = new Date();
        try {
          await records.insertOne({ _id: `${id}@v${version}`, rid: id, version, value, createdAt: now, ...(expiresAt ? { expiresAt } : {}) });
        } catch (error) {
          if (isDuplicateKey(error)) return null;
          throw error;
        }
        await records
          .deleteMany({ rid: id, version: { $lt: version }, createdAt: { $lt: new Date(now.getTime() - RECORD_VERSION_RETENTION_MS) } })
          .catch(() => {});
        return version;
      });
    },
  };

  /** One half of a profile snapshot (types.ts IdentityRecord.user): never over a newer copy. */
  private async setUserCopy(name: 'identities' | 'sessions', user: UserRecord): Promise<void> {
    await this.run(async (db) => {
      // Never over a newer copy: of two racing profile changes the later one stays.
      const filter = { userId: user.id, $or: [{ user: null }, { 'user.id': { $ne: user.id } }, { 'user.updatedAt': { $lte: user.updatedAt } }] };
      await this.collection(db, name).updateMany(filter, { $set: { user: toSnapshot(user) } });
    });
  }

  private async userCopy(db: Db, id: string): Promise<UserRecord | null> {
    const carrier = await this.identityDocs(db).findOne({ userId: id, 'user.id': id });
    return carrier?.user ? fromSnapshot(carrier.user) : null;
  }

  private readonly pendingSessions: { doc: SessionDoc; resolve(): void; reject(error: unknown): void }[] = [];
  private flushingSessions = false;

  private async flushSessions(): Promise<void> {
    this.flushingSessions = true;
    try {
      while (this.pendingSessions.length) {
        const batch = this.pendingSessions.splice(0, SESSION_BATCH_MAX);
        const used = this.dbPromise;
        try {
          await this.sessionDocs(await used).insertMany(
            batch.map((b) => b.doc),
            { ordered: false },
          );
          for (const b of batch) b.resolve();
        } catch (error) {
          this.noteFailure(error, used);
          const refused = refusedInserts(error);
          if (!refused) {
            const mapped = mapError(error);
            for (const b of batch) b.reject(mapped);
            continue;
          }
          const byIndex = new Map(refused.map((r) => [r.index, r.duplicate]));
          batch.forEach((b, i) => {
            if (!byIndex.has(i)) return b.resolve();
            b.reject(byIndex.get(i) ? new DuplicateKeyError(b.doc._id) : mapError(error));
          });
        }
      }
    } finally {
      this.flushingSessions = false;
    }
  }

  /** The sweep for servers without TTL indexes (FerretDB v1); harmless where the TTL monitor runs. */
  async sweepExpired(now: Date): Promise<number> {
    return this.run(async (db) => {
      const results = await Promise.all(EXPIRING_COLLECTIONS.map((name) => this.collection(db, name).deleteMany({ expiresAt: { $lte: now } })));
      return results.reduce((sum, r) => sum + r.deletedCount, 0);
    });
  }

  async ping(): Promise<void> {
    await this.run((db) => db.command({ ping: 1 }));
  }

  /**
   * Storage.warm: a ping, so the driver connects (server monitor, then one pooled connection) while
   * the caller waits for something else (a login: WeChat's code exchange). Only when no operation
   * succeeded for MONGO_MAX_IDLE_MS (the pool's idle connections close after that) and the server is
   * not known to be failing: a warm instance sends nothing, and during an outage a login waits for
   * one server selection, not two. Its failure counts as any operation's (noteFailure: a client
   * whose server selection keeps failing is replaced) and is otherwise left to the next operation.
   * A host's own Db: nothing (the host owns its connection).
   */
  warm(): void {
    if (this.warming || !this.renew || this.selectionFailingSince || Date.now() - this.lastOkAt < MONGO_MAX_IDLE_MS) return;
    const warming: Promise<void> = this.exec((db) => db.command({ ping: 1 })).then(
      () => {},
      () => {},
    );
    this.warming = warming;
    void warming.then(() => {
      if (this.warming === warming) this.warming = null;
    });
  }


  async stats(): Promise<StoreStats> {
    return this.run(async (db) => {
      const [users, identities, sessions, records] = await Promise.all([
        this.userDocs(db).countDocuments({}),
        this.identityDocs(db).countDocuments({}),
        this.sessionDocs(db).countDocuments({}),
        this.recordDocs(db).countDocuments({}),
      ]);
      return { users, identities, sessions, records };
    });
  }

  async migrate(): Promise<void> {
    await migrateMongo(await this.dbPromise, this.prefix);
  }

  async close(): Promise<void> {
    if (!this.ownsClient || !this.clientPromise) return;
    const client = await this.clientPromise.catch(() => null);
    await client?.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Migration (indexes are created here only, never on the login path)

async function createExpiryIndex(collection: Collection<any>): Promise<boolean> {
  try {
    await collection.createIndex({ expiresAt: 1 }, { expireAfterSeconds: 0 });
    return true;
  } catch (error) {
    // FerretDB v1: code 238 NotImplemented, 'Index option "expireAfterSeconds" is not implemented yet'.
    const unsupported =
      error instanceof MongoServerError &&
      ([238, 115, 197].includes(error.code as number) || /expireAfterSeconds/i.test(error.message));
    if (!unsupported) throw error;
    await collection.createIndex({ expiresAt: 1 });
    return false;
  }
}

/** Creates the indexes (idempotent). Returns whether the server accepted TTL indexes. */
export async function migrateMongo(db: Db, prefix = ''): Promise<{ ttl: boolean }> {
  const collection = (name: string) => db.collection(`${prefix}${name}`);
  try {
    await collection('sessions').createIndex({ userId: 1 });
    await collection('identities').createIndex({ userId: 1 });
    await collection('records').createIndex({ rid: 1, version: -1 });
    await collection('rate_counters').createIndex({ key: 1 });
    await collection('users').createIndex({ mergedInto: 1 });
    const ttl = await Promise.all(EXPIRING_COLLECTIONS.map((name) => createExpiryIndex(collection(name))));
    // Login records written before they carried expiresAt would stay forever: they lived 10 minutes.
    await collection('records').deleteMany({
      rid: { $regex: LEGACY_TEMPORARY_RECORD },
      expiresAt: { $exists: false },
      createdAt: { $lt: new Date(Date.now() - 24 * 3600_000) },
    });
    return { ttl: ttl.every(Boolean) };
  } catch (error) {
    throw mapError(error);
  }
}

/**
 * The indexes migrateMongo creates, by collection and key (TTL or not: only the key is compared,
 * because FerretDB cannot make them TTL). The deploy check compares a cluster against this list.
 */
export const REQUIRED_INDEXES: { collection: string; key: Record<string, 1 | -1> }[] = [
  { collection: 'sessions', key: { userId: 1 } },
  { collection: 'identities', key: { userId: 1 } },
  { collection: 'records', key: { rid: 1, version: -1 } },
  { collection: 'sessions', key: { expiresAt: 1 } },
  { collection: 'claims', key: { expiresAt: 1 } },
  { collection: 'claim_takeovers', key: { expiresAt: 1 } },
];

/** The REQUIRED_INDEXES missing from `db` (collections named `<prefix><name>`), as "collection {key}" (empty = migrated). */
export async function missingIndexes(db: Db, prefix = ''): Promise<string[]> {
  const missing: string[] = [];
  const byCollection = new Map<string, string[]>();
  for (const { collection, key } of REQUIRED_INDEXES) {
    if (!byCollection.has(collection)) {
      try {
        const indexes = await db.collection(`${prefix}${collection}`).listIndexes().toArray();
        byCollection.set(collection, indexes.map((index) => JSON.stringify(index.key)));
      } catch (error) {
        // 26 NamespaceNotFound: the collection does not exist yet, so neither do its indexes.
        if (!(error instanceof MongoServerError && error.code === 26)) throw mapError(error);
        byCollection.set(collection, []);
      }
    }
    if (!byCollection.get(collection)!.includes(JSON.stringify(key))) missing.push(`${prefix}${collection} ${JSON.stringify(key)}`);
  }
  return missing;
}
