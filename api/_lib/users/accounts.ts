import { generateId } from '../crypto/tokens.js';
import { DuplicateKeyError, type EncryptedValue, type IdentityRecord, type Store, type UserRecord } from '../store/types.js';

/**
 * One person, one account, across every door (mini-program, website QR, official account).
 * WeChat identities are key documents — `oid:<appid>:<openid>` and `uid:<unionid>` — pointing at a
 * user id. They are inserted with a unique key, so two concurrent first logins cannot both link:
 * the loser sees DuplicateKeyError and re-reads the winner's link.
 */
export const openidKey = (appid: string, openid: string) => `oid:${appid}:${openid}`;
export const unionidKey = (unionid: string) => `uid:${unionid}`;

export interface WechatIdentity {
  appid: string;
  openid: string;
  unionid: string | null;
  /** sealed session_key, mini-program only */
  sessionKey?: EncryptedValue | null;
}

export interface ResolvedAccount {
  user: UserRecord;
  isNewUser: boolean;
}

export async function resolveAccount(
  store: Store,
  identity: WechatIdentity,
  seed: { nickname: string | null; avatarUrl: string | null },
  now: Date,
): Promise<ResolvedAccount> {
  const key = openidKey(identity.appid, identity.openid);
  const patch = {
    ...(identity.sessionKey !== undefined ? { sessionKey: identity.sessionKey } : {}),
    ...(identity.unionid ? { unionid: identity.unionid } : {}),
  };
  // Returning user: one round trip updates the session_key and tells us the user id.
  let link = await store.updateIdentity(key, patch, now);
  let isNewUser = false;
  if (!link) {
    const linked = identity.unionid ? await store.getIdentity(unionidKey(identity.unionid)) : null;
    const record: IdentityRecord = {
      key,
      kind: 'oid',
      userId: linked?.userId ?? generateId(),
      appid: identity.appid,
      openid: identity.openid,
      unionid: identity.unionid,
      sessionKey: identity.sessionKey ?? null,
      createdAt: now,
      updatedAt: now,
    };
    try {
      await store.insertIdentity(record);
      link = record;
      isNewUser = !linked;
    } catch (error) {
      if (!(error instanceof DuplicateKeyError)) throw error;
      // Someone else linked this openid first: theirs wins, ours is dropped.
      link = await store.updateIdentity(key, patch, now);
      if (!link) throw error;
    }
  }
  let userId = link.userId;
  if (identity.unionid) {
    const holder = await linkUnionid(store, identity.unionid, userId, now);
    if (holder !== userId) {
      // The unionid arrived late and another account already has it: merge into that one.
      await mergeAccounts(store, userId, holder, now);
      userId = holder;
      isNewUser = false;
    }
  }
  let user = await store.getUser(userId);
  if (!user) {
    // First login, or a previous attempt stopped between the two writes: create the user now.
    user = await store.insertUserIfAbsent({ id: userId, nickname: seed.nickname, avatarUrl: seed.avatarUrl, createdAt: now, updatedAt: now });
  }
  return { user, isNewUser };
}

/** Links the unionid to `userId` unless it is linked already; returns the user that holds it. */
async function linkUnionid(store: Store, unionid: string, userId: string, now: Date): Promise<string> {
  const key = unionidKey(unionid);
  const existing = await store.getIdentity(key);
  if (existing) return existing.userId;
  try {
    await store.insertIdentity({ key, kind: 'uid', userId, appid: null, openid: null, unionid, sessionKey: null, createdAt: now, updatedAt: now });
    return userId;
  } catch (error) {
    if (!(error instanceof DuplicateKeyError)) throw error;
    const winner = await store.getIdentity(key);
    if (!winner) throw error;
    return winner.userId;
  }
}

/**
 * Merges account `fromId` into `intoId` (policy: docs/ACCOUNTS.md). The survivor is always the
 * account the `uid:<unionid>` key points to — a single unique key — so two racing logins agree on
 * it. Every step is idempotent: a merge interrupted or run twice ends in the same state.
 * Only WeChat's own unionid (from a server-to-server call) ever triggers this, never client data.
 */
export async function mergeAccounts(store: Store, fromId: string, intoId: string, now: Date): Promise<void> {
  if (fromId === intoId) return;
  const [from, into] = await Promise.all([store.getUser(fromId), store.getUser(intoId)]);
  for (const identity of await store.getUserIdentities(fromId)) {
    await store.reassignIdentity(identity.key, fromId, intoId, now);
  }
  await store.reassignSessions(fromId, intoId);
  if (from && into) {
    // The survivor keeps what it has; what it lacks comes from the merged account.
    const patch = {
      ...(!into.nickname && from.nickname ? { nickname: from.nickname } : {}),
      ...(!into.avatarUrl && from.avatarUrl ? { avatarUrl: from.avatarUrl } : {}),
      ...(!into.phone && from.phone ? { phone: from.phone } : {}),
    };
    if (Object.keys(patch).length) await store.updateUser(intoId, patch, now);
  } else if (from && !into) {
    await store.insertUserIfAbsent({ ...from, id: intoId, mergedInto: null });
  }
  if (from) await store.updateUser(fromId, { mergedInto: intoId }, now);
}
