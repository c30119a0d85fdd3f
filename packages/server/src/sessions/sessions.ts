import { generateToken, sha256Hex } from '../crypto/tokens.js';
import type { AccountPort, EncryptedValue, SessionPort, SessionRecord, UserRecord } from '../store/types.js';
import { currentUser } from '../users/accounts.js';

/**
 * Sessions in the shape of Lucia v3 / The Copenhagen Book: a random token goes to the client once,
 * only its SHA-256 is stored; sessions expire, slide forward when used in the second half of their
 * life, and are revoked by deleting the record.
 *
 * The manager owns every session operation (create, validate, list, revoke one, revoke all) and
 * its clock is the only judge of expiry: the stores return what they hold and never compare with
 * their own Date.now().
 *
 * An authenticated request costs one store round trip: the session document carries a copy of the
 * user record (kept in step by SessionPort.setUserCopy, docs/ACCOUNTS.md "Profile snapshots"), and the
 * expiry is written only when the session is used in the second half of its life.
 */
export const SESSION_LIFETIME_MS = 30 * 24 * 60 * 60 * 1000;

/** A session as the person sees it in 登录设备 lists: named by the first 16 hex characters of its id. */
export interface SessionSummary {
  id: string;
  via: SessionRecord['via'];
  createdAt: Date;
  expiresAt: Date;
  current: boolean;
}

export type Validated = { session: SessionRecord; user: UserRecord } | { session: null; user: null };

/** A mini-program login's WeChat session_key, sealed, as a session carries it (SessionRecord.wxSessionKey). */
export interface SealedSessionKey {
  /** the identity it belongs to, `oid:<appid>:<openid>` (the seal's associated data) */
  identity: string;
  sealed: EncryptedValue;
  /** when WeChat issued it: the session's creation */
  issuedAt: Date;
}

export interface SessionManager {
  /** `user` is copied into the session so validate() needs no user read. */
  create(user: UserRecord, via: SessionRecord['via'], extra?: { wxSessionKey?: SessionRecord['wxSessionKey'] }): Promise<{ token: string; session: SessionRecord }>;
  /** The session (with its current, possibly slid `expiresAt`) and its user, or nulls. */
  validate(token: string): Promise<Validated>;
  /** The session stored under this id (the SHA-256 of its token) while it is live, else null; never slides it. */
  live(sessionId: string): Promise<SessionRecord | null>;
  /** Logout: ends the session of this token (unknown tokens are fine). */
  invalidate(token: string): Promise<void>;
  /** The user's live sessions, newest first. */
  list(userId: string, currentSessionId?: string): Promise<SessionSummary[]>;
  /** Ends one of the user's sessions named by its 16-character id; false when there is none. */
  revoke(userId: string, shortId: string): Promise<boolean>;
  /** 退出所有设备. */
  revokeAll(userId: string): Promise<void>;
  /** The session_keys carried by the user's live sessions, newest first (flows/mini/decrypt.ts). */
  sealedSessionKeys(userId: string): Promise<SealedSessionKey[]>;
}

const TOKEN_PATTERN = /^[a-z2-7]{32}$/;
const SHORT_ID_PATTERN = /^[0-9a-f]{16}$/;

/**
 * The manager writes through the SessionPort only; the user is read (AccountPort.getUser) just for
 * sessions that carry no current copy (written before copies existed, or moved by a merge).
 */
export function createSessionManager(store: { sessions: SessionPort; accounts: Pick<AccountPort, 'getUser'> }, clock: () => Date = () => new Date(), lifetimeMs = SESSION_LIFETIME_MS): SessionManager {
  const live = (session: SessionRecord, now: number) => session.expiresAt.getTime() > now;
  const listLive = async (userId: string) => {
    const now = clock().getTime();
    return (await store.sessions.listByUser(userId)).filter((s) => live(s, now));
  };

  return {
    async create(user, via, extra) {
      const token = generateToken();
      const now = clock();
      const session: SessionRecord = {
        id: sha256Hex(token),
        userId: user.id,
        via,
        createdAt: now,
        expiresAt: new Date(now.getTime() + lifetimeMs),
        user,
        ...(extra?.wxSessionKey && { wxSessionKey: extra.wxSessionKey }),
      };
      await store.sessions.insert(session);
      return { token, session };
    },

    async validate(token) {
      if (!TOKEN_PATTERN.test(token)) return { session: null, user: null };
      const session = await store.sessions.get(sha256Hex(token));
      if (!session) return { session: null, user: null };
      const now = clock().getTime();
      if (!live(session, now)) {
        // Removed on sight; the TTL index (where the server has one) may not have run yet.
        await store.sessions.delete(session.id);
        return { session: null, user: null };
      }
      // Sessions written before snapshots existed, and sessions moved by a merge whose copy is not
      // rewritten yet, read the user record (one more round trip).
      let user = session.user && session.user.id === session.userId ? session.user : await store.accounts.getUser(session.userId);
      // A session of an account merged into another (see docs/ACCOUNTS.md) follows the survivor.
      if (user?.mergedInto) user = await currentUser(store, user);
      if (!user) {
        await store.sessions.delete(session.id);
        return { session: null, user: null };
      }
      if (session.expiresAt.getTime() - now < lifetimeMs / 2) {
        session.expiresAt = new Date(now + lifetimeMs);
        await store.sessions.updateExpiration(session.id, session.expiresAt);
      }
      return { session, user };
    },

    async live(sessionId) {
      const session = await store.sessions.get(sessionId);
      return session && live(session, clock().getTime()) ? session : null;
    },

    async invalidate(token) {
      if (!TOKEN_PATTERN.test(token)) return;
      await store.sessions.delete(sha256Hex(token));
    },

    async list(userId, currentSessionId) {
      return (await listLive(userId))
        .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime())
        .map((s) => ({ id: s.id.slice(0, 16), via: s.via, createdAt: s.createdAt, expiresAt: s.expiresAt, current: s.id === currentSessionId }));
    },

    async revoke(userId, shortId) {
      if (!SHORT_ID_PATTERN.test(shortId)) return false;
      const target = (await listLive(userId)).find((s) => s.id.startsWith(shortId));
      if (!target) return false;
      await store.sessions.delete(target.id);
      return true;
    },

    async revokeAll(userId) {
      await store.sessions.deleteByUser(userId);
    },

    async sealedSessionKeys(userId) {
      // Stores list sessions oldest first; reversed before a stable sort, two sessions created in
      // the same millisecond keep the later-stored one first.
      return (await listLive(userId))
        .filter((s) => s.wxSessionKey)
        .reverse()
        .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime())
        .map((s) => ({ identity: s.wxSessionKey!.identity, sealed: s.wxSessionKey!.sealed, issuedAt: s.createdAt }));
    },
  };
}
