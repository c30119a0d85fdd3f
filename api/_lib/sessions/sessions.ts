import { generateToken, sha256Hex } from '../crypto/tokens.js';
import type { SessionRecord, Store, UserRecord } from '../store/types.js';
import { currentUser } from '../users/accounts.js';

/**
 * Sessions in the shape of Lucia v3 / The Copenhagen Book: a random token goes to the client once,
 * only its SHA-256 is stored; sessions expire, slide forward when used in the second half of their
 * life, and are revoked by deleting the record.
 */
export const SESSION_LIFETIME_MS = 30 * 24 * 60 * 60 * 1000;

export interface SessionManager {
  create(userId: string, via: SessionRecord['via']): Promise<{ token: string; session: SessionRecord }>;
  validate(token: string): Promise<{ session: SessionRecord; user: UserRecord } | { session: null; user: null }>;
  invalidate(token: string): Promise<void>;
  invalidateUser(userId: string): Promise<void>;
}

export function createSessionManager(store: Store, clock: () => Date = () => new Date(), lifetimeMs = SESSION_LIFETIME_MS): SessionManager {
  return {
    async create(userId, via) {
      const token = generateToken();
      const now = clock();
      const session: SessionRecord = { id: sha256Hex(token), userId, via, createdAt: now, expiresAt: new Date(now.getTime() + lifetimeMs) };
      await store.insertSession(session);
      return { token, session };
    },
    async validate(token) {
      if (!/^[a-z2-7]{32}$/.test(token)) return { session: null, user: null };
      const [session, found] = await store.getSessionAndUser(sha256Hex(token));
      if (!session) return { session: null, user: null };
      // A session created while its account was being merged follows the account.
      const user = await currentUser(store, found);
      if (!user) {
        await store.deleteSession(session.id);
        return { session: null, user: null };
      }
      const now = clock().getTime();
      if (session.expiresAt.getTime() <= now) {
        await store.deleteSession(session.id);
        return { session: null, user: null };
      }
      if (session.expiresAt.getTime() - now < lifetimeMs / 2) {
        session.expiresAt = new Date(now + lifetimeMs);
        await store.updateSessionExpiration(session.id, session.expiresAt);
      }
      return { session, user };
    },
    async invalidate(token) {
      await store.deleteSession(sha256Hex(token));
    },
    async invalidateUser(userId) {
      await store.deleteUserSessions(userId);
    },
  };
}
