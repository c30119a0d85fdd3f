import { randomUUID } from 'node:crypto';
import {
  Binary,
  MongoClient,
  MongoError,
  MongoNetworkError,
  MongoServerError,
  MongoServerSelectionError,
  type Collection,
  type Db,
  type MongoClientOptions,
} from 'mongodb';
import { attachDatabasePool } from '@vercel/functions';
import {
  DuplicateKeyError,
  StoreUnavailableError,
  type BlobRecord,
  type EncryptedValue,
  type IdentityKind,
  type IdentityPatch,
  type IdentityRecord,
  type PhoneRecord,
  type SessionRecord,
  type Store,
  type StoreStats,
  type UserPatch,
  type UserRecord,
  type VersionedRecord,
} from './types.js';

/**
 * MongoDB store (official driver). Also run against FerretDB v1 on PostgreSQL in the test suite.
 *
 * Portability rule learnt from FerretDB v1: its updates and deletes are "query, then write by _id"
 * (no atomic compare-and-write), so a filtered update such as `{_id, version: 3}` can succeed for
 * several concurrent writers. The only reliable atomic primitive on both servers is the unique
 * `_id` of an insert. Every operation that must not let two racers both win (claim, the takeover of
 * an expired claim, compareAndSetRecord) is therefore built on insertOne + duplicate key 11000.
 * Plain last-writer-wins updates (profile fields, session expiry) use ordinary updates.
 *
 * TTL indexes are created by migrateMongo where supported (real MongoDB), but expiry is always
 * checked in queries: FerretDB ignores/rejects TTL options, and MongoDB's TTL monitor runs only
 * once a minute anyway.
 */

const DEFAULT_DB = 'wechat_login';
const DUPLICATE_KEY = 11000;

interface ClaimDoc {
  _id: string;
  expiresAt: Date;
  /** random generation id: names the takeover marker when this claim has expired */
  gen?: string;
}

interface ClaimTakeoverDoc {
  /** `<claim key>@<generation>` */
  _id: string;
  expiresAt: Date;
}

interface IdentityDoc {
  _id: string;
  kind: IdentityKind;
  userId: string;
  appid: string | null;
  openid: string | null;
  unionid: string | null;
  sessionKey: EncryptedValue | null;
  createdAt: Date;
  updatedAt: Date;
}

interface UserDoc {
  _id: string;
  nickname: string | null;
  avatarUrl: string | null;
  phone?: PhoneRecord | null;
  mergedInto?: string | null;
  createdAt: Date;
  updatedAt: Date;
}

interface BlobDoc {
  _id: string;
  contentType: string;
  data: Binary;
  createdAt: Date;
}

interface SessionDoc {
  _id: string;
  userId: string;
  via: SessionRecord['via'];
  createdAt: Date;
  expiresAt: Date;
}

/** One document per version of a record: `_id` = `<id>@v<version>` (see compareAndSetRecord). */
interface RecordVersionDoc {
  _id: string;
  rid: string;
  version: number;
  value: Record<string, unknown>;
  createdAt: Date;
}

/** Old record versions are kept this long, which bounds how stale a compare-and-set may be. */
const RECORD_VERSION_RETENTION_MS = 10 * 60_000;

// ---------------------------------------------------------------------------------------------
// Client

const CLIENTS = Symbol.for('wechat-login.mongoClients');
type ClientCache = Map<string, Promise<MongoClient>>;

/**
 * Time budget of one MongoDB operation, sized to the function's `maxDuration` (10 s, vercel.json):
 * server selection + one socket read stay under 8 s, so an outage becomes a 503 inside the limit.
 * The driver's `timeoutMS` (CSOT) is NOT used: mongodb 7.9 marks it "deprecated: has no effect"
 * and warns on every client, so the budget is set with the options the driver honours.
 */
export const MONGO_TIMEOUTS = { serverSelectionTimeoutMS: 3000, connectTimeoutMS: 3000, socketTimeoutMS: 5000, waitQueueTimeoutMS: 2000 } as const;
/** Idle pool connections close after this; `attachDatabasePool` keeps a suspended instance alive this long. */
export const MONGO_MAX_IDLE_MS = 5000;

/** Options for serverless use; anything the URI sets itself (e.g. `serverSelectionTimeoutMS`) wins. */
export function clientOptions(uri: string): MongoClientOptions {
  const defaults: MongoClientOptions = {
    appName: 'wechat-login',
    maxPoolSize: 5,
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
}

export function createMongoStore(options: MongoStoreOptions): MongoStore {
  const dbName = options.dbName ?? dbNameFromUri(options.uri) ?? DEFAULT_DB;
  if (options.privateClient) {
    const client = (async () => {
      const c = new MongoClient(options.uri, clientOptions(options.uri));
      attachVercelPool(c);
      return c;
    })();
    return new MongoStore(client, dbName, true);
  }
  return new MongoStore(getMongoClient(options.uri), dbName, false);
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

function isUnavailable(error: unknown): boolean {
  if (error instanceof MongoServerSelectionError || error instanceof MongoNetworkError) return true;
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
    createdAt: doc.createdAt,
    updatedAt: doc.updatedAt,
  };
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

function toSession(doc: SessionDoc): SessionRecord {
  return { id: doc._id, userId: doc.userId, via: doc.via, createdAt: doc.createdAt, expiresAt: doc.expiresAt };
}

/** Only the listed fields, and only those present: `undefined` means "leave as is". */
function pick<T extends object>(patch: T, fields: readonly (keyof T)[]): Partial<T> {
  const out: Partial<T> = {};
  for (const field of fields) if (patch[field] !== undefined) out[field] = patch[field];
  return out;
}

// ---------------------------------------------------------------------------------------------
// Store

export class MongoStore implements Store {
  readonly kind = 'mongodb' as const;
  private readonly dbPromise: Promise<Db>;

  constructor(
    private readonly clientPromise: Promise<MongoClient>,
    dbName: string,
    private readonly ownsClient: boolean,
  ) {
    this.dbPromise = clientPromise.then((client) => client.db(dbName));
    // Rejections are reported by the operations that await it.
    this.dbPromise.catch(() => {});
  }

  private async run<T>(fn: (db: Db) => Promise<T>): Promise<T> {
    try {
      return await fn(await this.dbPromise);
    } catch (error) {
      throw mapError(error);
    }
  }

  private claims(db: Db): Collection<ClaimDoc> {
    return db.collection<ClaimDoc>('claims');
  }

  private identities(db: Db): Collection<IdentityDoc> {
    return db.collection<IdentityDoc>('identities');
  }

  private users(db: Db): Collection<UserDoc> {
    return db.collection<UserDoc>('users');
  }

  private sessions(db: Db): Collection<SessionDoc> {
    return db.collection<SessionDoc>('sessions');
  }

  /**
   * Insert-only, so exactly one of any number of concurrent claimers wins on MongoDB and FerretDB.
   * An expired claim is taken over through a marker document whose `_id` names the expired claim's
   * generation: only one claimer can insert it, and only that claimer then rewrites the claim.
   */
  async claim(key: string, expiresAt: Date): Promise<void> {
    await this.run(async (db) => {
      const claims = this.claims(db);
      const takeovers = db.collection<ClaimTakeoverDoc>('claim_takeovers');
      for (let attempt = 0; attempt < 5; attempt++) {
        try {
          await claims.insertOne({ _id: key, expiresAt, gen: randomUUID() });
          return;
        } catch (error) {
          if (!isDuplicateKey(error)) throw error;
        }
        const existing = await claims.findOne({ _id: key });
        if (!existing) continue; // deleted meanwhile (TTL): insert again
        if (existing.expiresAt.getTime() > Date.now()) throw new DuplicateKeyError(key);
        const generation = existing.gen ?? `t${existing.expiresAt.getTime()}`;
        try {
          await takeovers.insertOne({ _id: `${key}@${generation}`, expiresAt });
        } catch (error) {
          if (isDuplicateKey(error)) throw new DuplicateKeyError(key); // another claimer took it over
          throw error;
        }
        // We alone own this generation. The filter on it only matters on MongoDB, where the TTL
        // monitor may have deleted the expired claim (then someone may have inserted a fresh one).
        const generationFilter = existing.gen ? { gen: existing.gen } : { gen: { $exists: false }, expiresAt: existing.expiresAt };
        const replaced = await claims.replaceOne({ _id: key, ...generationFilter }, { expiresAt, gen: randomUUID() });
        if (replaced.matchedCount === 1) return;
      }
      throw new DuplicateKeyError(key);
    });
  }

  async getIdentity(key: string): Promise<IdentityRecord | null> {
    return this.run(async (db) => {
      const doc = await this.identities(db).findOne({ _id: key });
      return doc ? toIdentity(doc) : null;
    });
  }

  async insertIdentity(identity: IdentityRecord): Promise<void> {
    await this.run(async (db) => {
      try {
        await this.identities(db).insertOne(fromIdentity(identity));
      } catch (error) {
        if (isDuplicateKey(error)) throw new DuplicateKeyError(identity.key);
        throw error;
      }
    });
  }

  async updateIdentity(key: string, patch: IdentityPatch, now: Date): Promise<IdentityRecord | null> {
    return this.run(async (db) => {
      const set: Partial<IdentityDoc> = { ...pick(patch, ['sessionKey', 'unionid']), updatedAt: now };
      if (set.sessionKey) set.sessionKey = { kid: set.sessionKey.kid, data: set.sessionKey.data };
      const doc = await this.identities(db).findOneAndUpdate({ _id: key }, { $set: set }, { returnDocument: 'after' });
      return doc ? toIdentity(doc) : null;
    });
  }

  async getUserIdentities(userId: string): Promise<IdentityRecord[]> {
    return this.run(async (db) => {
      const docs = await this.identities(db).find({ userId }).sort({ _id: 1 }).toArray();
      return docs.map(toIdentity);
    });
  }

  /**
   * A filtered update: atomic on MongoDB. On FerretDB v1 two racing reassignments of the same
   * identity could both report true (last writer wins); mergeAccounts only ever moves towards the
   * account the unique `uid:` key names, so such a race ends in the same state.
   */
  async reassignIdentity(key: string, fromUserId: string, toUserId: string, now: Date): Promise<boolean> {
    return this.run(async (db) => {
      const res = await this.identities(db).updateOne({ _id: key, userId: fromUserId }, { $set: { userId: toUserId, updatedAt: now } });
      return res.matchedCount === 1;
    });
  }

  async deleteIdentity(key: string): Promise<void> {
    await this.run((db) => this.identities(db).deleteOne({ _id: key }));
  }

  async getUser(id: string): Promise<UserRecord | null> {
    return this.run(async (db) => {
      const doc = await this.users(db).findOne({ _id: id });
      return doc ? toUser(doc) : null;
    });
  }

  async deleteUser(id: string): Promise<void> {
    await this.run((db) => this.users(db).deleteOne({ _id: id }));
  }

  /**
   * insertOne, and on a duplicate key read the stored user. Not an upsert with `$setOnInsert`:
   * FerretDB v1 drops top-level null fields from `$setOnInsert` on upsert (e.g. `mergedInto: null`
   * would not be stored), and concurrent upserts fail with 11000 there anyway. Correct on both.
   */
  async insertUserIfAbsent(user: UserRecord): Promise<UserRecord> {
    return this.run(async (db) => {
      const users = this.users(db);
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
  }

  async updateUser(id: string, patch: UserPatch, now: Date): Promise<UserRecord | null> {
    return this.run(async (db) => {
      const set: Partial<UserDoc> = { ...userFields(patch), updatedAt: now };
      const doc = await this.users(db).findOneAndUpdate({ _id: id }, { $set: set }, { returnDocument: 'after' });
      return doc ? toUser(doc) : null;
    });
  }

  async insertSession(session: SessionRecord): Promise<void> {
    await this.run(async (db) => {
      try {
        await this.sessions(db).insertOne({
          _id: session.id,
          userId: session.userId,
          via: session.via,
          createdAt: session.createdAt,
          expiresAt: session.expiresAt,
        });
      } catch (error) {
        if (isDuplicateKey(error)) throw new DuplicateKeyError(session.id);
        throw error;
      }
    });
  }

  async getSessionAndUser(id: string): Promise<[SessionRecord | null, UserRecord | null]> {
    return this.run(async (db) => {
      const sessions = this.sessions(db);
      const session = await sessions.findOne({ _id: id });
      if (!session) return [null, null];
      const now = new Date();
      if (session.expiresAt.getTime() <= now.getTime()) {
        // Expired: never returned, and removed (the TTL index may not exist or not have run yet).
        await sessions.deleteOne({ _id: id, expiresAt: { $lte: now } });
        return [null, null];
      }
      const user = await this.users(db).findOne({ _id: session.userId });
      return [toSession(session), user ? toUser(user) : null];
    });
  }

  async updateSessionExpiration(id: string, expiresAt: Date): Promise<void> {
    await this.run((db) => this.sessions(db).updateOne({ _id: id }, { $set: { expiresAt } }));
  }

  async deleteSession(id: string): Promise<void> {
    await this.run((db) => this.sessions(db).deleteOne({ _id: id }));
  }

  async deleteUserSessions(userId: string): Promise<void> {
    await this.run((db) => this.sessions(db).deleteMany({ userId }));
  }

  async getUserSessions(userId: string): Promise<SessionRecord[]> {
    return this.run(async (db) => {
      const docs = await this.sessions(db)
        .find({ userId, expiresAt: { $gt: new Date() } })
        .sort({ createdAt: 1 })
        .toArray();
      return docs.map(toSession);
    });
  }

  async reassignSessions(fromUserId: string, toUserId: string): Promise<void> {
    await this.run((db) => this.sessions(db).updateMany({ userId: fromUserId }, { $set: { userId: toUserId } }));
  }

  async putBlob(blob: BlobRecord): Promise<void> {
    await this.run((db) =>
      db.collection<BlobDoc>('blobs').replaceOne(
        { _id: blob.id },
        { contentType: blob.contentType, data: new Binary(blob.data), createdAt: blob.createdAt },
        { upsert: true },
      ),
    );
  }

  async getBlob(id: string): Promise<BlobRecord | null> {
    return this.run(async (db) => {
      const doc = await db.collection<BlobDoc>('blobs').findOne({ _id: id });
      if (!doc) return null;
      // A copy: the driver's bytes may be a view into a larger response buffer.
      return { id: doc._id, contentType: doc.contentType, data: Buffer.from(doc.data.value()), createdAt: doc.createdAt };
    });
  }

  async deleteBlob(id: string): Promise<void> {
    await this.run((db) => db.collection<BlobDoc>('blobs').deleteOne({ _id: id }));
  }

  async getRecord(id: string): Promise<VersionedRecord | null> {
    return this.run(async (db) => {
      const doc = await db.collection<RecordVersionDoc>('records').findOne({ rid: id }, { sort: { version: -1 } });
      return doc ? { value: doc.value, version: doc.version } : null;
    });
  }

  /**
   * Each version is its own document with `_id` = `<id>@v<version>`: writing version n+1 is an
   * insert, which exactly one concurrent writer can win (a filtered update `{version: n}` is not
   * atomic on FerretDB v1). Versions older than RECORD_VERSION_RETENTION_MS are pruned, except the
   * latest; a writer whose read is older than that could in theory re-create a pruned version.
   */
  async compareAndSetRecord(id: string, value: Record<string, unknown>, expectedVersion: number | null): Promise<boolean> {
    return this.run(async (db) => {
      const records = db.collection<RecordVersionDoc>('records');
      const version = (expectedVersion ?? 0) + 1;
      // Early answer when someone already moved past the expected version (also guards against
      // re-creating a pruned version).
      const latest = await records.findOne({ rid: id }, { sort: { version: -1 }, projection: { version: 1 } });
      if ((latest?.version ?? null) !== expectedVersion) return false;
      const now = new Date();
      try {
        await records.insertOne({ _id: `${id}@v${version}`, rid: id, version, value, createdAt: now });
      } catch (error) {
        if (isDuplicateKey(error)) return false;
        throw error;
      }
      await records
        .deleteMany({ rid: id, version: { $lt: version }, createdAt: { $lt: new Date(now.getTime() - RECORD_VERSION_RETENTION_MS) } })
        .catch(() => {});
      return true;
    });
  }

  async stats(): Promise<StoreStats> {
    return this.run(async (db) => {
      const [users, identities, sessions, claims] = await Promise.all([
        this.users(db).countDocuments({}),
        this.identities(db).countDocuments({}),
        this.sessions(db).countDocuments({}),
        this.claims(db).countDocuments({}),
      ]);
      return { users, identities, sessions, claims };
    });
  }

  async close(): Promise<void> {
    if (!this.ownsClient) return;
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
export async function migrateMongo(db: Db): Promise<{ ttl: boolean }> {
  try {
    await db.collection('sessions').createIndex({ userId: 1 });
    await db.collection('identities').createIndex({ userId: 1 });
    await db.collection('records').createIndex({ rid: 1, version: -1 });
    const ttl = await Promise.all([
      createExpiryIndex(db.collection('sessions')),
      createExpiryIndex(db.collection('claims')),
      createExpiryIndex(db.collection('claim_takeovers')),
    ]);
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

/** The REQUIRED_INDEXES missing from `db`, as "collection {key}" (empty = migrated). */
export async function missingIndexes(db: Db): Promise<string[]> {
  const missing: string[] = [];
  const byCollection = new Map<string, string[]>();
  for (const { collection, key } of REQUIRED_INDEXES) {
    if (!byCollection.has(collection)) {
      try {
        const indexes = await db.collection(collection).listIndexes().toArray();
        byCollection.set(collection, indexes.map((index) => JSON.stringify(index.key)));
      } catch (error) {
        // 26 NamespaceNotFound: the collection does not exist yet, so neither do its indexes.
        if (!(error instanceof MongoServerError && error.code === 26)) throw mapError(error);
        byCollection.set(collection, []);
      }
    }
    if (!byCollection.get(collection)!.includes(JSON.stringify(key))) missing.push(`${collection} ${JSON.stringify(key)}`);
  }
  return missing;
}
