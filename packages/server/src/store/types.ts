/**
 * The storage contract (the Storage ports below). Domain code (flows/, sessions/, users/) sees only
 * these ports; every implementation is run through the same contract suite (tests/store.contract.ts).
 */

import type { RecordChangeSource } from './mongo-changes.js';

export interface EncryptedValue {
  /** key id, so keys can be rotated: the key that sealed a value is looked up by it. */
  kid: string;
  /** base64url(iv | ciphertext | tag), AES-256-GCM. */
  data: string;
}

export interface PhoneRecord {
  /** as WeChat returns it: phoneNumber (with country code for foreign numbers), purePhoneNumber, countryCode */
  phoneNumber: string;
  purePhoneNumber: string;
  countryCode: string;
  verifiedAt: Date;
}

export interface UserRecord {
  id: string;
  nickname: string | null;
  avatarUrl: string | null;
  /** verified by WeChat's getuserphonenumber only — never from client data */
  phone?: PhoneRecord | null;
  /** set on an account that was merged into another (late unionid); it no longer logs in */
  mergedInto?: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export type IdentityKind = 'oid' | 'uid';

export interface IdentityRecord {
  /** `oid:<appid>:<openid>` or `uid:<unionid>` */
  key: string;
  kind: IdentityKind;
  userId: string;
  appid: string | null;
  openid: string | null;
  unionid: string | null;
  /**
   * WeChat session_key for this (appid, openid), sealed; never leaves the server. Written by logins
   * before session_key moved to the session (SessionRecord.wxSessionKey); read by decrypt only when
   * it is newer than every session's. New identities carry null.
   */
  sessionKey: EncryptedValue | null;
  /**
   * A copy of the user record this identity points at, so a returning login learns the account in
   * the same round trip that updates the session_key (no separate user read). The `users` document
   * stays the truth; the copy is rewritten by AccountPort/SessionPort setUserCopy (users/accounts.ts setUserCopies) after every change (docs/ACCOUNTS.md,
   * "Profile snapshots"). Absent on documents written before snapshots existed.
   */
  user?: UserRecord | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface SessionRecord {
  /** SHA-256 hex of the bearer token; the token itself is never stored. */
  id: string;
  userId: string;
  /**
   * Which door the session came through: a mini-program door's NAME ('mini' by default, 'mini-shop'…:
   * webviewTicket({ from }) and the door's own routes tell them apart), or the other shipped doors'
   * labels 'web-qr', 'oa', 'pc-qr', 'webview' (the H5 page in a mini-program's web-view, from a
   * one-time ticket). A new door writes its own name.
   */
  via: string;
  createdAt: Date;
  expiresAt: Date;
  /** Copy of the user record (see IdentityRecord.user): an authenticated request reads one document. */
  user?: UserRecord | null;
  /**
   * Mini-program sessions: the WeChat session_key issued by the jscode2session of this login, sealed
   * with the identity key (`oid:<appid>:<openid>`) as associated data. It lives on the session, not
   * on the identity, so a returning login writes one document (docs/ACCOUNTS.md "Where session_key
   * lives"); it goes when the session goes (logout, revoke, 注销). Never leaves the server.
   */
  wxSessionKey?: { identity: string; sealed: EncryptedValue } | null;
}

export type UserPatch = Partial<Pick<UserRecord, 'nickname' | 'avatarUrl' | 'phone' | 'mergedInto'>>;

export interface BlobRecord {
  id: string;
  contentType: string;
  data: Buffer;
  /** the user who uploaded it; only they (or the account they were merged into) may use or delete it. Absent on blobs stored before owners were recorded. */
  ownerId?: string | null;
  createdAt: Date;
}
export type IdentityPatch = Partial<Pick<IdentityRecord, 'sessionKey' | 'unionid'>>;

/** Document counts (diagnostics, tests and benchmarks; not part of Storage). */
export interface StoreStats {
  users: number;
  identities: number;
  sessions: number;
  records: number;
}

/** This instance's count for one rate-limit key in one fixed window (see http/rate-limit.ts). */
export interface CounterWrite {
  key: string;
  /** window start, ms since epoch */
  window: number;
  /** this instance's absolute count in that window (not a delta: rewriting it is idempotent) */
  count: number;
  /** when the counter may be deleted (after the window ends) */
  expiresAt: Date;
}

/** The sum over every instance of one key's count in one window. */
export interface CounterTotal {
  key: string;
  window: number;
  total: number;
}

/**
 * Storage through small ports (issue 20, docs/design/issue-20-drop-in.md §4). Domain code takes only
 * the port it needs: the SessionManager a SessionPort, users/accounts an AccountPort, store/records.ts
 * a RecordPort, the avatar a BlobPort, the rate limiter a CounterPort. Every implementation runs the
 * contract suite port by port (tests/store.contract.ts).
 */
export interface Storage {
  /** 'embedded' | 'mongodb' (shown by /api/auth/health); a host's own implementation names itself */
  readonly kind: string;
  readonly sessions: SessionPort;
  readonly accounts: AccountPort;
  readonly records: RecordPort;
  readonly blobs: BlobPort;
  readonly counters: CounterPort;
  /** A cheap round trip proving the storage answers (readiness). Throws StoreUnavailableError. */
  ping(): Promise<void>;
  /** Deletes every expired temporary document (sessions, records, counters) at `now`. Returns how many. */
  sweepExpired(now: Date): Promise<number>;
  /** Creates indexes (idempotent); absent where there is nothing to create. */
  migrate?(): Promise<void>;
  /** Releases what this storage opened itself (never a host's own client). */
  close(): Promise<void>;
  /**
   * Optional: start getting ready for the first operation (load the driver, connect) without
   * waiting, and never throwing — a failure is reported by the operation that follows. A mini login
   * calls it before its WeChat code exchange, which needs no storage, so a cold instance connects
   * while WeChat answers (docs/BENCH.md "Cold first login"). Cheap when already ready.
   */
  warm?(): void;
  /**
   * Optional: a push source of record changes (MongoDB change streams on the records collection),
   * for records whose id starts with `idPrefix`; the PC-login notifier polls without it.
   */
  recordChanges?(idPrefix: string, valueFields: string[]): RecordChangeSource;
}

/** Sessions (Lucia's adapter shape + the two merges need). Expiry is judged by the SessionManager only. */
export interface SessionPort {
  /** Throws DuplicateKeyError when the id exists. */
  insert(session: SessionRecord): Promise<void>;
  /** The stored session, expired or not: expiry is judged by the SessionManager's clock only. */
  get(id: string): Promise<SessionRecord | null>;
  updateExpiration(id: string, expiresAt: Date): Promise<void>;
  delete(id: string): Promise<void>;
  deleteByUser(userId: string): Promise<void>;
  /** Every stored session of the user, expired ones included (the SessionManager filters). */
  listByUser(userId: string): Promise<SessionRecord[]>;
  reassign(fromUserId: string, toUserId: string): Promise<void>;
  /** Rewrites the user copy on every session of `user.id`, except a copy with a later `updatedAt`. */
  setUserCopy(user: UserRecord): Promise<void>;
}

/**
 * Identities and users. Uniqueness is by construction: identity keys are `oid:<appid>:<openid>` /
 * `uid:<unionid>`, inserted with a unique primary key (the loser of a race gets DuplicateKeyError).
 */
export interface AccountPort {
  getIdentity(key: string): Promise<IdentityRecord | null>;
  /** Throws DuplicateKeyError when the key exists. */
  insertIdentity(identity: IdentityRecord): Promise<void>;
  /**
   * Inserts several identities in one round trip, in order. On the first duplicate key it stops
   * and throws DuplicateKeyError naming that key; the identities before it stay inserted.
   */
  insertIdentities(identities: IdentityRecord[]): Promise<void>;
  /** Returns the identity after the update, or null when it does not exist. */
  updateIdentity(key: string, patch: IdentityPatch, now: Date): Promise<IdentityRecord | null>;
  listIdentities(userId: string): Promise<IdentityRecord[]>;
  /** Moves an identity to another user, only if it still belongs to `fromUserId`. */
  reassignIdentity(key: string, fromUserId: string, toUserId: string, now: Date): Promise<boolean>;
  deleteIdentity(key: string): Promise<void>;
  /**
   * A new account is born as the copy on its identities (IdentityRecord.user): the user record is
   * written on the account's first change. getUser returns the record, else that copy; updateUser
   * writes the record from the copy first when there is none yet.
   */
  getUser(id: string): Promise<UserRecord | null>;
  /** Inserts the user unless one with the same id exists; returns the stored user either way. */
  insertUserIfAbsent(user: UserRecord): Promise<UserRecord>;
  updateUser(id: string, patch: UserPatch, now: Date): Promise<UserRecord | null>;
  deleteUser(id: string): Promise<void>;
  /** Users merged into `id` (late unionid), directly; the account deletion follows the chain. */
  listMergedInto(id: string): Promise<UserRecord[]>;
  /** Rewrites the user copy on every identity of `user.id`, except a copy with a later `updatedAt`. */
  setUserCopy(user: UserRecord): Promise<void>;
}

/** A record as stored: raw value, its version, and when it stops being live (null: permanent). */
export interface StoredRecord {
  value: Record<string, unknown>;
  version: number;
  expiresAt: Date | null;
}

/**
 * Small shared state with optimistic concurrency: raw and untyped. Expiry is a column the caller
 * supplies; the judge of a temporary record's liveness is store/records.ts (flows never touch this
 * port). A port may filter `expiresAt > now` only with the `now` it is handed, never its own clock.
 */
export interface RecordPort {
  /** The live records among `ids` at `now`, in ONE round trip; absent and expired ids are left out. */
  get(ids: readonly string[], now: Date): Promise<Map<string, StoredRecord>>;
  /**
   * Writes `value` as the next version when the stored version equals `expected`; `expected` null:
   * the record must be absent or expired at `now` (an expired one is taken over: exactly one of any
   * number of racers wins). Returns the version written, or null when another writer got there first.
   */
  put(id: string, value: Record<string, unknown>, expected: number | null, expiresAt: Date | null, now: Date): Promise<number | null>;
  // No delete: no flow needs one (a record ends by expiring), and a deleted record would restart at
  // version 1 while a writer may still hold the old version 1 for a compare-and-set.
}

/** Small binary objects (uploaded avatars) that every instance can serve. */
export interface BlobPort {
  put(blob: BlobRecord): Promise<void>;
  get(id: string): Promise<BlobRecord | null>;
  delete(id: string): Promise<void>;
}

/**
 * Rate-limit counters, shared by instances without a write per request: each instance writes its
 * own absolute counts (one bulk write) and reads back every instance's totals for the same keys and
 * windows. Counters are temporary (expiresAt).
 */
export interface CounterPort {
  sync(instance: string, counts: CounterWrite[], now: Date): Promise<CounterTotal[]>;
}

/**
 * Ids of temporary records (login states and handoffs, the decrypt limit). Records written before
 * they carried `expiresAt` are recognised by it and removed (migrateMongo; the embedded store on load).
 */
export const LEGACY_TEMPORARY_RECORD = /^(web-login|oa-login|decrypt_rate):/;

export class DuplicateKeyError extends Error {
  constructor(readonly key: string) {
    super('duplicate key');
    this.name = 'DuplicateKeyError';
  }
}

/** The database could not be reached or answered with a fault; maps to 503 store_unavailable. */
export class StoreUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreUnavailableError';
  }
}
