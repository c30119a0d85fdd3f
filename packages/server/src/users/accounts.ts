import { generateId } from '../crypto/tokens.js';
import { DuplicateKeyError, type AccountPort, type IdentityRecord, type Storage, type UserPatch, type UserRecord } from '../store/types.js';
import { emitUserEvent, type UserEvents } from './hooks.js';

/** The ports account changes write through: identities and users, and the sessions' user copies. */
export type AccountStores = Pick<Storage, 'accounts' | 'sessions'>;

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
}

export interface ResolvedAccount {
  user: UserRecord;
  isNewUser: boolean;
}

export interface ProfileSeed {
  nickname: string | null;
  avatarUrl: string | null;
}

/**
 * Finds or creates the account behind a WeChat identity. `seed` only fills a brand-new account; as a
 * function it is called only for a person seen through no door yet (e.g. to fetch sns/userinfo),
 * found out from the reads the resolution makes anyway.
 *
 * Store round trips (asserted in tests/round-trips.test.ts):
 *   returning person           1  (a READ of the identity, which carries the user's copy: nothing on
 *                                  it changes at a login — the session_key goes on the session;
 *                                  docs/ACCOUNTS.md "Where session_key lives")
 *   new person, no unionid     2  (identity miss, then a unique-key insert)
 *   new person with unionid    2  (identity miss, then `uid:` + `oid:` in one ordered insert)
 * A new account is born as the copy on its identities; its user record is written on its first
 * change (AccountPort.getUser / updateUser). `events`: the host's user hooks (users/hooks.ts), called
 * after the account is stored (userCreated; usersMerged when a late unionid merges it).
 * The `uid:` link is read only when this identity does not carry the unionid yet. An `oid:`
 * identity carries a unionid only once its `uid:` link is known to point at the same user: it is
 * written after the link (or after it in the same ordered insert), never before.
 */
export async function resolveAccount(
  store: AccountStores,
  identity: WechatIdentity,
  seed: ProfileSeed | (() => Promise<ProfileSeed>),
  now: Date,
  events?: UserEvents,
): Promise<ResolvedAccount> {
  const resolved = await resolve(store, identity, seed, now, events);
  if (resolved.isNewUser) await emitUserEvent(events, 'userCreated', resolved.user);
  return resolved;
}

async function resolve(
  store: AccountStores,
  identity: WechatIdentity,
  seed: ProfileSeed | (() => Promise<ProfileSeed>),
  now: Date,
  events: UserEvents | undefined,
): Promise<ResolvedAccount> {
  const key = openidKey(identity.appid, identity.openid);
  const { unionid } = identity;
  const oidRecord = (user: UserRecord, withUnionid: boolean): IdentityRecord => ({
    key,
    kind: 'oid',
    userId: user.id,
    appid: identity.appid,
    openid: identity.openid,
    unionid: withUnionid ? unionid : null,
    sessionKey: null,
    user,
    createdAt: now,
    updatedAt: now,
  });
  const freshUser = (profile: ProfileSeed): UserRecord => ({ id: generateId(), nickname: profile.nickname, avatarUrl: profile.avatarUrl, createdAt: now, updatedAt: now });

  const link = await store.accounts.getIdentity(key);
  if (link) return returning(store, link, identity, now, events);

  if (!unionid && typeof seed !== 'function') {
    const fresh = freshUser(seed);
    try {
      await store.accounts.insertIdentity(oidRecord(fresh, false));
      return { user: fresh, isNewUser: true };
    } catch (error) {
      if (!(error instanceof DuplicateKeyError)) throw error;
      return returningAfterRace(store, key, identity, now, error, events);
    }
  }

  // This openid is new. A browser door reads the unionid's link first, so sns/userinfo is called
  // only for a person no door has seen; the mini-program tries to create both keys at once.
  let holder = unionid && typeof seed === 'function' ? await store.accounts.getIdentity(unionidKey(unionid)) : null;
  if (!holder) {
    const fresh = freshUser(typeof seed === 'function' ? await seed() : seed);
    const records = [...(unionid ? [{ ...oidRecord(fresh, true), key: unionidKey(unionid), kind: 'uid' as const, appid: null, openid: null, sessionKey: null }] : []), oidRecord(fresh, true)];
    try {
      // `uid:` first: if the unionid is taken, nothing is written and this person joins its holder.
      await store.accounts.insertIdentities(records);
      return { user: fresh, isNewUser: true };
    } catch (error) {
      if (!(error instanceof DuplicateKeyError)) throw error;
      if (error.key === key) return returningAfterRace(store, key, identity, now, error, events);
      holder = await store.accounts.getIdentity(unionidKey(unionid!));
      if (!holder) throw error;
    }
  }
  // The unionid already belongs to an account (another door came first): link this openid to it.
  const user = await ensureUser(store, holder.userId, holder.user);
  try {
    await store.accounts.insertIdentity(oidRecord(user, true));
  } catch (error) {
    if (!(error instanceof DuplicateKeyError)) throw error;
    return returningAfterRace(store, key, identity, now, error, events);
  }
  return { user, isNewUser: false };
}

/** Someone else linked this openid first: theirs wins, ours is dropped. */
async function returningAfterRace(store: AccountStores, key: string, identity: WechatIdentity, now: Date, error: Error, events: UserEvents | undefined): Promise<ResolvedAccount> {
  const link = await store.accounts.getIdentity(key);
  if (!link) throw error;
  return returning(store, link, identity, now, events);
}

/** A known openid: the account is the identity's user copy, unless a late unionid merges it. */
async function returning(store: AccountStores, link: IdentityRecord, identity: WechatIdentity, now: Date, events: UserEvents | undefined): Promise<ResolvedAccount> {
  let userId = link.userId;
  let copy = link.user ?? null;
  if (identity.unionid && link.unionid !== identity.unionid) {
    const holder = await linkUnionid(store, identity.unionid, userId, now);
    if (holder.userId !== userId) {
      // The unionid arrived late and another account already has it: merge into that one.
      await mergeAccounts(store, userId, holder.userId, now, events);
      userId = holder.userId;
      copy = null;
    }
    // Only now that the link is known does the identity carry the unionid (skips the read next time).
    await store.accounts.updateIdentity(link.key, { unionid: identity.unionid }, now);
  }
  return { user: await ensureUser(store, userId, copy), isNewUser: false };
}

/**
 * The account `userId` stands for: the copy when it is the right one, else the user record (copies
 * written before snapshots existed, or after a merge). An identity written before copies existed
 * whose user record is missing (an old login stopped between its writes) gets an empty record.
 */
async function ensureUser(store: Pick<Storage, 'accounts'>, userId: string, copy: UserRecord | null | undefined): Promise<UserRecord> {
  let user = copy && copy.id === userId ? copy : await store.accounts.getUser(userId);
  if (user?.mergedInto) user = (await currentUser(store, user)) ?? user;
  return user ?? (await store.accounts.insertUserIfAbsent({ id: userId, nickname: null, avatarUrl: null, createdAt: new Date(), updatedAt: new Date() }));
}

/**
 * Changes a profile: the user record first (the truth), then the copies on the account's identities
 * and sessions. Returns the stored record, or null when the account no longer exists.
 */
export async function saveProfile(store: AccountStores, current: UserRecord, patch: UserPatch, now: Date): Promise<UserRecord | null> {
  const user = await store.accounts.updateUser(current.id, patch, now);
  if (user) await setUserCopies(store, user);
  return user;
}

/** Rewrites the user copy on the account's identities and sessions (two ports, written at once). */
export async function setUserCopies(store: AccountStores, user: UserRecord): Promise<void> {
  await Promise.all([store.accounts.setUserCopy(user), store.sessions.setUserCopy(user)]);
}

/** Links the unionid to `userId` unless it is linked already; returns the `uid:` identity. */
async function linkUnionid(store: Pick<Storage, 'accounts'>, unionid: string, userId: string, now: Date): Promise<IdentityRecord> {
  const key = unionidKey(unionid);
  const existing = await store.accounts.getIdentity(key);
  if (existing) return existing;
  const record: IdentityRecord = { key, kind: 'uid', userId, appid: null, openid: null, unionid, sessionKey: null, createdAt: now, updatedAt: now };
  try {
    await store.accounts.insertIdentity(record);
    return record;
  } catch (error) {
    if (!(error instanceof DuplicateKeyError)) throw error;
    const winner = await store.accounts.getIdentity(key);
    if (!winner) throw error;
    return winner;
  }
}

/**
 * Merges account `fromId` into `intoId` (policy: docs/ACCOUNTS.md). The survivor is always the
 * account the `uid:<unionid>` key points to — a single unique key — so two racing logins agree on
 * it. Every step is idempotent: a merge interrupted or run twice ends in the same state.
 * Only WeChat's own unionid (from a server-to-server call) ever triggers this, never client data.
 */
export async function mergeAccounts(store: AccountStores, fromId: string, intoId: string, now: Date, events?: UserEvents): Promise<void> {
  if (fromId === intoId) return;
  const [from, into] = await Promise.all([store.accounts.getUser(fromId), store.accounts.getUser(intoId)]);
  // The tombstone first: it writes the merged account's record (which may exist only as the copy on
  // its identities, read above) before those identities move away.
  if (from) {
    const merged = await store.accounts.updateUser(fromId, { mergedInto: intoId }, now);
    if (merged) await setUserCopies(store, merged);
  }
  for (const identity of await store.accounts.listIdentities(fromId)) {
    await store.accounts.reassignIdentity(identity.key, fromId, intoId, now);
  }
  await store.sessions.reassign(fromId, intoId);
  if (from && into) {
    // The survivor keeps what it has; what it lacks comes from the merged account.
    const patch = {
      ...(!into.nickname && from.nickname ? { nickname: from.nickname } : {}),
      ...(!into.avatarUrl && from.avatarUrl ? { avatarUrl: from.avatarUrl } : {}),
      ...(!into.phone && from.phone ? { phone: from.phone } : {}),
    };
    if (Object.keys(patch).length) await store.accounts.updateUser(intoId, patch, now);
  } else if (from && !into) {
    await store.accounts.insertUserIfAbsent({ ...from, id: intoId, mergedInto: null });
  }
  // The moved identities and sessions still carry the merged account's copy: rewrite them.
  const survivor = await store.accounts.getUser(intoId);
  if (survivor) {
    await setUserCopies(store, survivor);
    await emitUserEvent(events, 'usersMerged', fromId, survivor);
  }
}

/** The account a user record stands for now: itself, or the survivor it was merged into. */
export async function currentUser(store: { accounts: Pick<AccountPort, 'getUser'> }, user: UserRecord | null): Promise<UserRecord | null> {
  return user?.mergedInto ? store.accounts.getUser(user.mergedInto) : user;
}
