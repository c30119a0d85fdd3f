/**
 * The storage contract. Domain code (flows/, sessions/, users/) sees only this interface;
 * every implementation is run through the same contract suite (tests/store.contract.ts).
 *
 * Uniqueness is by construction: identity documents are keyed by `oid:<appid>:<openid>` /
 * `uid:<unionid>` and inserted with a unique primary key, so two racing first logins cannot
 * create two links; the loser gets a DuplicateKeyError and re-reads.
 */

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
   * stays the truth; the copy is rewritten by setUserSnapshot after every change (docs/ACCOUNTS.md,
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
  /** which door the session came through ('webview': the H5 page in the mini-program's web-view, from a one-time ticket) */
  via: 'mini' | 'web-qr' | 'oa' | 'pc-qr' | 'webview';
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

export interface VersionedRecord {
  value: Record<string, unknown>;
  version: number;
  /** when the record stops being live (absent: permanent). Judged by store/records.ts with the caller's clock. */
  expiresAt?: Date | null;
}

export interface StoreStats {
  users: number;
  identities: number;
  sessions: number;
  claims: number;
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

export interface Store {
  readonly kind: 'embedded' | 'mongodb';
  /**
   * Records a one-time value (e.g. a used OAuth state's hash). Throws DuplicateKeyError if claimed
   * and the claim is still live at `now` (the caller's clock: stores never judge expiry by their own).
   */
  claim(key: string, expiresAt: Date, now: Date): Promise<void>;

  getIdentity(key: string): Promise<IdentityRecord | null>;
  /** Throws DuplicateKeyError when the key exists. */
  insertIdentity(identity: IdentityRecord): Promise<void>;
  /** Returns the identity after the update, or null when it does not exist. */
  updateIdentity(key: string, patch: IdentityPatch, now: Date): Promise<IdentityRecord | null>;
  /**
   * Inserts several identities in one round trip, in order. On the first duplicate key it stops
   * and throws DuplicateKeyError naming that key; the identities before it stay inserted.
   */
  insertIdentities(identities: IdentityRecord[]): Promise<void>;
  /**
   * Rewrites the user copy carried by every identity and session of `user.id`, except copies of
   * this user with a later `updatedAt` (a racing, newer change).
   */
  setUserSnapshot(user: UserRecord): Promise<void>;

  getUserIdentities(userId: string): Promise<IdentityRecord[]>;
  /** Moves an identity to another user, only if it still belongs to `fromUserId`. */
  reassignIdentity(key: string, fromUserId: string, toUserId: string, now: Date): Promise<boolean>;
  deleteIdentity(key: string): Promise<void>;

  /**
   * A new account is born as the copy on its identities (IdentityRecord.user): the user record is
   * written on the account's first change. getUser returns the record, else that copy; updateUser
   * writes the record from the copy first when there is none yet.
   */
  getUser(id: string): Promise<UserRecord | null>;
  deleteUser(id: string): Promise<void>;
  /** Inserts the user unless one with the same id exists; returns the stored user either way. */
  insertUserIfAbsent(user: UserRecord): Promise<UserRecord>;
  updateUser(id: string, patch: UserPatch, now: Date): Promise<UserRecord | null>;

  insertSession(session: SessionRecord): Promise<void>;
  /** The stored session, expired or not: expiry is judged by the SessionManager's clock only. */
  getSession(id: string): Promise<SessionRecord | null>;
  updateSessionExpiration(id: string, expiresAt: Date): Promise<void>;
  deleteSession(id: string): Promise<void>;
  deleteUserSessions(userId: string): Promise<void>;
  /** Every stored session of the user, expired ones included (the SessionManager filters). */
  getUserSessions(userId: string): Promise<SessionRecord[]>;
  reassignSessions(fromUserId: string, toUserId: string): Promise<void>;

  /** Small binary objects (uploaded avatars) that every instance can serve. */
  putBlob(blob: BlobRecord): Promise<void>;
  getBlob(id: string): Promise<BlobRecord | null>;
  deleteBlob(id: string): Promise<void>;

  /**
   * Small shared state with optimistic concurrency (the WeChat access_token and its refresh lease).
   * compareAndSetRecord writes only when the stored version equals `expectedVersion` (null: the
   * record must not exist yet) and returns false when another writer got there first.
   */
  getRecord(id: string, now?: Date): Promise<VersionedRecord | null>;
  /**
   * The live (unexpired) records among `ids`, in ONE round trip — the PC-login notifier reads every
   * attempt an instance watches with one query (flows/attempt/notify.ts). Absent ids are left out.
   */
  getRecords(ids: string[], now?: Date): Promise<Map<string, VersionedRecord>>;
  /**
   * `expiresAt` makes the record temporary: at or past it, getRecord/getRecords answer null /
   * leave it out when handed the caller's `now` (only an optimisation: the judge of expiry is
   * store/records.ts, which flows use; without `now` the process clock is used, for the callers not
   * yet moved there), and sweepExpired / a TTL index deletes it. Expired ids are not reused
   * (temporary records have random ids).
   */
  compareAndSetRecord(id: string, value: Record<string, unknown>, expectedVersion: number | null, expiresAt?: Date | null): Promise<boolean>;

  /**
   * Rate-limit counters, shared by instances without a write per request: each instance writes
   * its own absolute counts (one bulk write) and reads back every instance's totals for the same
   * keys and windows. Counters are temporary (expiresAt).
   */
  syncCounters(instance: string, counts: CounterWrite[], now: Date): Promise<CounterTotal[]>;

  /** Deletes every expired temporary document (claims, sessions, records, counters). Returns how many. */
  sweepExpired(now: Date): Promise<number>;

  /** A cheap round trip proving the store answers (readiness). Throws StoreUnavailableError. */
  ping(): Promise<void>;

  /** Users merged into `id` (late unionid), directly; the account deletion follows the chain. */
  getUsersMergedInto(id: string): Promise<UserRecord[]>;

  stats(): Promise<StoreStats>;
  close(): Promise<void>;
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
