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

export interface UserRecord {
  id: string;
  nickname: string | null;
  avatarUrl: string | null;
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
  /** WeChat session_key for this (appid, openid), sealed; never leaves the server. */
  sessionKey: EncryptedValue | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface SessionRecord {
  /** SHA-256 hex of the bearer token; the token itself is never stored. */
  id: string;
  userId: string;
  /** which door the session came through */
  via: 'mini' | 'web-qr' | 'oa';
  createdAt: Date;
  expiresAt: Date;
}

export type UserPatch = Partial<Pick<UserRecord, 'nickname' | 'avatarUrl'>>;
export type IdentityPatch = Partial<Pick<IdentityRecord, 'sessionKey' | 'unionid'>>;

export interface StoreStats {
  users: number;
  identities: number;
  sessions: number;
  claims: number;
}

export interface Store {
  readonly kind: 'embedded' | 'mongodb';
  /** Records a one-time value (e.g. a login code's hash). Throws DuplicateKeyError if already claimed. */
  claim(key: string, expiresAt: Date): Promise<void>;

  getIdentity(key: string): Promise<IdentityRecord | null>;
  /** Throws DuplicateKeyError when the key exists. */
  insertIdentity(identity: IdentityRecord): Promise<void>;
  /** Returns the identity after the update, or null when it does not exist. */
  updateIdentity(key: string, patch: IdentityPatch, now: Date): Promise<IdentityRecord | null>;

  getUser(id: string): Promise<UserRecord | null>;
  /** Inserts the user unless one with the same id exists; returns the stored user either way. */
  insertUserIfAbsent(user: UserRecord): Promise<UserRecord>;
  updateUser(id: string, patch: UserPatch, now: Date): Promise<UserRecord | null>;

  insertSession(session: SessionRecord): Promise<void>;
  getSessionAndUser(id: string): Promise<[SessionRecord | null, UserRecord | null]>;
  updateSessionExpiration(id: string, expiresAt: Date): Promise<void>;
  deleteSession(id: string): Promise<void>;
  deleteUserSessions(userId: string): Promise<void>;
  getUserSessions(userId: string): Promise<SessionRecord[]>;

  stats(): Promise<StoreStats>;
  close(): Promise<void>;
}

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
