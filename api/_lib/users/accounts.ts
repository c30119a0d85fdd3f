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
  if (identity.unionid) await linkUnionid(store, identity.unionid, link.userId, now);
  let user = await store.getUser(link.userId);
  if (!user) {
    // First login, or a previous attempt stopped between the two writes: create the user now.
    user = await store.insertUserIfAbsent({ id: link.userId, nickname: seed.nickname, avatarUrl: seed.avatarUrl, createdAt: now, updatedAt: now });
  }
  return { user, isNewUser };
}

async function linkUnionid(store: Store, unionid: string, userId: string, now: Date): Promise<void> {
  try {
    await store.insertIdentity({ key: unionidKey(unionid), kind: 'uid', userId, appid: null, openid: null, unionid, sessionKey: null, createdAt: now, updatedAt: now });
  } catch (error) {
    if (!(error instanceof DuplicateKeyError)) throw error;
    // Already linked (the usual case for a returning user). Merging two accounts that met late is
    // a separate, explicit step (docs/ACCOUNTS.md), never a side effect of login.
  }
}
