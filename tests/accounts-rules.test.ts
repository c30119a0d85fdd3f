import { storeStats, withPort } from './support/records.js';
import { describe, expect, it } from 'vitest';
import { EmbeddedStore } from '../packages/server/src/store/embedded.js';
import { DuplicateKeyError, StoreUnavailableError, type AccountPort, type IdentityRecord, type Storage, type UserRecord } from '../packages/server/src/store/types.js';
import { currentUser, mergeAccounts, openidKey, resolveAccount, saveProfile, unionidKey } from '../packages/server/src/users/accounts.js';

// users/accounts.ts against the embedded store (docs/ACCOUNTS.md): merge policy, the `uid:` link,
// profile copies. Every expectation is written out here, not computed by the code under test.
const MINI = 'wx00000000000000d2';
const OA = 'wx00000000000000e3';
const T = new Date('2026-11-30T00:00:00Z');
const LATER = new Date('2026-11-30T01:00:00Z');
const AVATAR_A = 'https://thirdwx.qlogo.cn/mmopen/vi_32/a/132';
const AVATAR_B = 'https://thirdwx.qlogo.cn/mmopen/vi_32/b/132';
const PHONE_A = { phoneNumber: '13800000001', purePhoneNumber: '13800000001', countryCode: '86', verifiedAt: T };
const PHONE_B = { phoneNumber: '13900000002', purePhoneNumber: '13900000002', countryCode: '86', verifiedAt: T };

const user = (id: string, fields: Partial<UserRecord> = {}): UserRecord => ({ id, nickname: null, avatarUrl: null, createdAt: T, updatedAt: T, ...fields });
const oid = (appid: string, openid: string, owner: UserRecord, unionid: string | null = null): IdentityRecord => ({
  key: openidKey(appid, openid), kind: 'oid', userId: owner.id, appid, openid, unionid, sessionKey: null, user: owner, createdAt: T, updatedAt: T,
});

function proxied(inner: Storage, overrides: Partial<Record<keyof AccountPort, (...args: never[]) => unknown>>): Storage {
  return withPort(inner, 'accounts', overrides);
}

describe('a merge keeps what the survivor has and fills only what it lacks', () => {
  it('nickname kept, avatar and phone filled from the merged account', async () => {
    const store = new EmbeddedStore({ dir: null });
    await store.accounts.insertUserIfAbsent(user('from', { nickname: '旧昵称', avatarUrl: AVATAR_A, phone: PHONE_A }));
    await store.accounts.insertUserIfAbsent(user('into', { nickname: '新昵称' }));
    await mergeAccounts(store, 'from', 'into', LATER);
    expect(await store.accounts.getUser('into')).toMatchObject({ nickname: '新昵称', avatarUrl: AVATAR_A, phone: PHONE_A });
    expect((await store.accounts.getUser('from'))!.mergedInto).toBe('into');
  });

  it('a survivor with everything is not rewritten; the merged account\'s values never replace its own', async () => {
    const store = new EmbeddedStore({ dir: null });
    await store.accounts.insertUserIfAbsent(user('from', { nickname: '旧昵称', avatarUrl: AVATAR_A, phone: PHONE_A }));
    await store.accounts.insertUserIfAbsent(user('into', { nickname: '新昵称', avatarUrl: AVATAR_B, phone: PHONE_B }));
    await mergeAccounts(store, 'from', 'into', LATER);
    expect(await store.accounts.getUser('into')).toMatchObject({ nickname: '新昵称', avatarUrl: AVATAR_B, phone: PHONE_B, updatedAt: T });
  });

  it('a merged account with nothing to give leaves the survivor\'s empty fields empty', async () => {
    const store = new EmbeddedStore({ dir: null });
    await store.accounts.insertUserIfAbsent(user('from'));
    await store.accounts.insertUserIfAbsent(user('into'));
    await mergeAccounts(store, 'from', 'into', LATER);
    expect(await store.accounts.getUser('into')).toMatchObject({ nickname: null, avatarUrl: null, updatedAt: T });
    expect((await store.accounts.getUser('into'))!.phone ?? null).toBeNull();
  });

  it('a survivor with no record and no copy yet is born with the merged account\'s profile', async () => {
    const store = new EmbeddedStore({ dir: null });
    await store.accounts.insertUserIfAbsent(user('from', { nickname: '旧昵称', avatarUrl: AVATAR_A }));
    await mergeAccounts(store, 'from', 'ghost', LATER);
    expect(await store.accounts.getUser('ghost')).toMatchObject({ id: 'ghost', nickname: '旧昵称', avatarUrl: AVATAR_A, mergedInto: null });
  });

  it('merging an account into itself changes nothing', async () => {
    const store = new EmbeddedStore({ dir: null });
    await store.accounts.insertUserIfAbsent(user('same', { nickname: '我' }));
    await mergeAccounts(store, 'same', 'same', LATER);
    const after = (await store.accounts.getUser('same'))!;
    expect(after.mergedInto ?? null).toBeNull();
    expect(after.updatedAt).toEqual(T);
  });

  it('moved identities carry the survivor\'s copy afterwards', async () => {
    const store = new EmbeddedStore({ dir: null });
    const from = user('from', { nickname: '旧昵称' });
    await store.accounts.insertUserIfAbsent(from);
    await store.accounts.insertUserIfAbsent(user('into', { nickname: '新昵称' }));
    await store.accounts.insertIdentity(oid(MINI, 'o-1', from));
    await mergeAccounts(store, 'from', 'into', LATER);
    expect((await store.accounts.getIdentity(openidKey(MINI, 'o-1')))!.user).toMatchObject({ id: 'into', nickname: '新昵称' });
  });
});

describe('the unionid link', () => {
  it('a late unionid is linked as a `uid:` identity of the account, and the openid identity then carries it', async () => {
    const store = new EmbeddedStore({ dir: null });
    const first = await resolveAccount(store, { appid: MINI, openid: 'o-late', unionid: null }, { nickname: '小王', avatarUrl: null }, T);
    const again = await resolveAccount(store, { appid: MINI, openid: 'o-late', unionid: 'U-late' }, { nickname: null, avatarUrl: null }, LATER);
    expect(again.user).toMatchObject({ id: first.user.id, nickname: '小王' });
    expect(await store.accounts.getIdentity(unionidKey('U-late'))).toMatchObject({ kind: 'uid', userId: first.user.id, unionid: 'U-late' });
    expect((await store.accounts.getIdentity(openidKey(MINI, 'o-late')))!.unionid).toBe('U-late');
  });

  it('a login without a unionid (snsapi_base) neither erases the known one nor links a `uid:null`', async () => {
    const store = new EmbeddedStore({ dir: null });
    const first = await resolveAccount(store, { appid: OA, openid: 'o-base', unionid: 'U-base' }, async () => ({ nickname: '小张', avatarUrl: null }), T);
    const base = await resolveAccount(store, { appid: OA, openid: 'o-base', unionid: null }, async () => ({ nickname: null, avatarUrl: null }), LATER);
    expect(base.user.id).toBe(first.user.id);
    expect((await store.accounts.getIdentity(openidKey(OA, 'o-base')))!.unionid).toBe('U-base');
    expect(await store.accounts.getIdentity(unionidKey(null as unknown as string))).toBeNull();
    expect((await store.accounts.listIdentities(first.user.id)).map((i) => i.key).sort()).toEqual([openidKey(OA, 'o-base'), unionidKey('U-base')]);
  });

  it('when another login links the same unionid first, this one joins the winner (merge into it)', async () => {
    const inner = new EmbeddedStore({ dir: null });
    await resolveAccount(inner, { appid: MINI, openid: 'o-race', unionid: null }, { nickname: '我', avatarUrl: null }, T);
    const winner = user('winner', { nickname: '先到' });
    await inner.accounts.insertUserIfAbsent(winner);
    let raced = false;
    const store = proxied(inner, {
      getIdentity: (async (key: string) => (key === unionidKey('U-race') && !raced ? null : inner.accounts.getIdentity(key))) as never,
      insertIdentity: (async (identity: IdentityRecord) => {
        if (identity.key === unionidKey('U-race') && !raced) {
          raced = true;
          await inner.accounts.insertIdentity({ ...identity, userId: 'winner' });
          throw new DuplicateKeyError(identity.key);
        }
        return inner.accounts.insertIdentity(identity);
      }) as never,
    });
    const result = await resolveAccount(store, { appid: MINI, openid: 'o-race', unionid: 'U-race' }, { nickname: null, avatarUrl: null }, LATER);
    expect(result.user.id).toBe('winner');
    expect((await inner.accounts.getIdentity(openidKey(MINI, 'o-race')))!.userId).toBe('winner');
  });

  it('a store outage while linking is the store\'s error, and a vanished winner re-raises the duplicate', async () => {
    for (const failure of ['outage', 'vanished'] as const) {
      const inner = new EmbeddedStore({ dir: null });
      await resolveAccount(inner, { appid: MINI, openid: 'o-out', unionid: null }, { nickname: null, avatarUrl: null }, T);
      const store = proxied(inner, {
        insertIdentity: (async (identity: IdentityRecord) => {
          if (identity.key !== unionidKey('U-out')) return inner.accounts.insertIdentity(identity);
          throw failure === 'outage' ? new StoreUnavailableError('down') : new DuplicateKeyError(identity.key);
        }) as never,
      });
      let error: unknown;
      try {
        await resolveAccount(store, { appid: MINI, openid: 'o-out', unionid: 'U-out' }, { nickname: null, avatarUrl: null }, LATER);
      } catch (e) {
        error = e;
      }
      expect(error, failure).toBeInstanceOf(failure === 'outage' ? StoreUnavailableError : DuplicateKeyError);
    }
  });
});

describe('the account a returning identity stands for', () => {
  it('the record of the identity\'s user when its copy belongs to another account (moved, not rewritten yet)', async () => {
    const store = new EmbeddedStore({ dir: null });
    await store.accounts.insertUserIfAbsent(user('u-now', { nickname: '现在的账号' }));
    await store.accounts.insertIdentity({ ...oid(MINI, 'o-moved', user('u-before', { nickname: '以前的账号' })), userId: 'u-now' });
    const result = await resolveAccount(store, { appid: MINI, openid: 'o-moved', unionid: null }, { nickname: null, avatarUrl: null }, LATER);
    expect(result.user).toMatchObject({ id: 'u-now', nickname: '现在的账号' });
  });

  it('the survivor when the identity still points at an account merged away', async () => {
    const store = new EmbeddedStore({ dir: null });
    await store.accounts.insertUserIfAbsent(user('u-survivor', { nickname: '幸存者' }));
    const merged = user('u-merged', { nickname: '已合并', mergedInto: 'u-survivor' });
    await store.accounts.insertUserIfAbsent(merged);
    await store.accounts.insertIdentity(oid(MINI, 'o-old', merged));
    const result = await resolveAccount(store, { appid: MINI, openid: 'o-old', unionid: null }, { nickname: null, avatarUrl: null }, LATER);
    expect(result.user).toMatchObject({ id: 'u-survivor', nickname: '幸存者' });
  });
});

describe('saveProfile', () => {
  it('answers null for an account that no longer exists, without writing copies', async () => {
    const store = new EmbeddedStore({ dir: null });
    // Someone else's identity is in the store: copies of nobody must not be written over it.
    const other = user('other', { nickname: '别人' });
    await store.accounts.insertIdentity(oid(MINI, 'o-other', other));
    expect(await saveProfile(store, user('gone'), { nickname: '谁' }, LATER)).toBeNull();
    expect((await store.accounts.getIdentity(openidKey(MINI, 'o-other')))!.user).toMatchObject({ id: 'other', nickname: '别人' });
  });

  it('currentUser of no user is no user', async () => {
    expect(await currentUser(new EmbeddedStore({ dir: null }), null)).toBeNull();
  });
});

describe('finding or creating the account behind a browser login', () => {
  it('a brand-new person without a unionid is seeded from sns/userinfo (the seed function)', async () => {
    const store = new EmbeddedStore({ dir: null });
    const result = await resolveAccount(store, { appid: OA, openid: 'o-new', unionid: null }, async () => ({ nickname: '网页新人', avatarUrl: AVATAR_A }), T);
    expect(result).toMatchObject({ isNewUser: true, user: { nickname: '网页新人', avatarUrl: AVATAR_A } });
    // exactly one identity, the openid one: nothing else is written
    expect((await store.stats()).identities).toBe(1);
    expect((await store.accounts.listIdentities(result.user.id)).map((i) => i.key)).toEqual([openidKey(OA, 'o-new')]);
  });

  it('a person another door already knows by unionid joins that account, and sns/userinfo is not called', async () => {
    const store = new EmbeddedStore({ dir: null });
    const mini = await resolveAccount(store, { appid: MINI, openid: 'o-mini', unionid: 'U-known' }, { nickname: '小程序', avatarUrl: null }, T);
    let seeded = 0;
    const web = await resolveAccount(store, { appid: OA, openid: 'o-web', unionid: 'U-known' }, async () => {
      seeded++;
      return { nickname: '网页', avatarUrl: null };
    }, LATER);
    expect(web).toMatchObject({ isNewUser: false, user: { id: mini.user.id, nickname: '小程序' } });
    expect(seeded).toBe(0);
    // Both openid identities carry the unionid: the next login needs no `uid:` read.
    expect((await store.accounts.getIdentity(openidKey(MINI, 'o-mini')))!.unionid).toBe('U-known');
    expect((await store.accounts.getIdentity(openidKey(OA, 'o-web')))!.unionid).toBe('U-known');
    expect(await store.accounts.getIdentity(unionidKey('U-known'))).toMatchObject({ kind: 'uid', userId: mini.user.id, unionid: 'U-known' });
  });

  it('a duplicate whose winner vanished before it could be read re-raises the duplicate, never a crash', async () => {
    for (const lost of ['uid', 'oid'] as const) {
      const inner = new EmbeddedStore({ dir: null });
      const store = proxied(inner, {
        insertIdentities: (async (records: IdentityRecord[]) => {
          throw new DuplicateKeyError(lost === 'uid' ? records[0]!.key : records[records.length - 1]!.key);
        }) as never,
      });
      let error: unknown;
      try {
        await resolveAccount(store, { appid: MINI, openid: 'o-gone', unionid: 'U-gone' }, { nickname: null, avatarUrl: null }, T);
      } catch (e) {
        error = e;
      }
      expect(error, lost).toBeInstanceOf(DuplicateKeyError);
    }
  });
});

describe('a first login without a unionid that loses its insert to a concurrent first login', () => {
  // Both logins read "no identity"; the other one's insert lands first. This one must answer with
  // the winner's account (not a second account, not an error) and must not overwrite its link.
  it('joins the winner\'s account as a returning login', async () => {
    const inner = new EmbeddedStore({ dir: null });
    const winner = user('u-first', { nickname: '先到' });
    const store = proxied(inner, {
      insertIdentity: (async (identity: IdentityRecord) => {
        await inner.accounts.insertIdentity(oid(MINI, 'o-twin', winner));
        throw new DuplicateKeyError(identity.key);
      }) as never,
    });
    const result = await resolveAccount(store, { appid: MINI, openid: 'o-twin', unionid: null }, { nickname: '后到', avatarUrl: null }, T);
    expect(result).toEqual({ user: winner, isNewUser: false });
    expect((await inner.accounts.getIdentity(openidKey(MINI, 'o-twin')))!.userId).toBe('u-first');
    expect((await storeStats(inner)).identities).toBe(1);
  });

  it('a store outage on that insert is the store\'s error (503), not a login', async () => {
    const store = proxied(new EmbeddedStore({ dir: null }), {
      insertIdentity: (async () => {
        throw new StoreUnavailableError('down');
      }) as never,
    });
    await expect(resolveAccount(store, { appid: MINI, openid: 'o-down', unionid: null }, { nickname: null, avatarUrl: null }, T)).rejects.toBeInstanceOf(StoreUnavailableError);
  });

  it('a new identity is an `oid:` identity with no unionid and no session_key', async () => {
    const store = new EmbeddedStore({ dir: null });
    const { user: created } = await resolveAccount(store, { appid: MINI, openid: 'o-new', unionid: null }, { nickname: '新', avatarUrl: null }, T);
    expect(await store.accounts.getIdentity(openidKey(MINI, 'o-new'))).toEqual({
      key: openidKey(MINI, 'o-new'), kind: 'oid', userId: created.id, appid: MINI, openid: 'o-new', unionid: null, sessionKey: null, user: created, createdAt: T, updatedAt: T,
    });
  });
});
