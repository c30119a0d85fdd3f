import { metered, storeStats, withPort } from './support/records.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedStore } from '../packages/server/src/store/embedded.js';
import { DuplicateKeyError, type IdentityRecord, type Storage } from '../packages/server/src/store/types.js';
import { postJson, simCode, startStack, type Stack } from './support/stack.js';

/**
 * A store whose first identity insert for a new person loses a race: another writer (a concurrent
 * first login of the same person) links the same keys to its own user first.
 */
function racingStore(inner: Storage, competitorUserId: string): Storage {
  let raced = false;
  return withPort(inner, 'accounts', {
    insertIdentities: async (identities: IdentityRecord[]) => {
      if (!raced) {
        raced = true;
        for (const identity of identities) await inner.accounts.insertIdentity({ ...identity, userId: competitorUserId, user: undefined });
        throw new DuplicateKeyError(identities[0]!.key);
      }
      return inner.accounts.insertIdentities(identities);
    },
  });
}

describe('one person, one account', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stack.close());

  it('50 parallel first logins of one person create exactly one user', async () => {
    const codes = await Promise.all(Array.from({ length: 50 }, () => simCode(stack, 'crowd')));
    const before = await storeStats(stack.services.store);
    const results = await Promise.all(codes.map((code) => postJson(`${stack.apiUrl}/api/auth/mini/login`, { code })));
    expect(results.map((r) => r.status)).toEqual(Array(50).fill(200));
    const after = await storeStats(stack.services.store);
    // A new account is born as the copy on its identities; its user record comes with the first change.
    expect(after.users - before.users).toBe(0);
    expect(after.identities - before.identities).toBe(2); // oid:<appid>:<openid> and uid:<unionid>
    expect(after.sessions - before.sessions).toBe(50);
    const ids = new Set(results.map((r) => r.body.user.id));
    expect(ids.size).toBe(1);
    expect(results.filter((r) => r.body.isNewUser)).toHaveLength(1);
    // 50 devices changing the profile at once write one user record, and every session sees it.
    const patched = await Promise.all(
      results.map((r, i) => fetch(`${stack.apiUrl}/api/auth/me`, { method: 'PATCH', headers: { 'content-type': 'application/json', authorization: `Bearer ${r.body.token}` }, body: JSON.stringify({ avatarUrl: `https://thirdwx.qlogo.cn/mmopen/vi_32/a${i}/132` }) })),
    );
    expect(patched.map((r) => r.status)).toEqual(Array(50).fill(200));
    expect((await storeStats(stack.services.store)).users - before.users).toBe(1);
    const stored = (await stack.services.store.accounts.getUser([...ids][0]!))!.avatarUrl;
    const seen = await Promise.all(results.map(async (r) => (await (await fetch(`${stack.apiUrl}/api/auth/me`, { headers: { authorization: `Bearer ${r.body.token}` } })).json()).user.avatarUrl));
    expect(new Set(seen)).toEqual(new Set([stored]));
  });

  it('50 parallel first logins without a unionid (one upsert each) create exactly one user', async () => {
    const unbound = await startStack({ openPlatformId: null });
    try {
      const codes = await Promise.all(Array.from({ length: 50 }, () => simCode(unbound, 'crowd')));
      const results = await Promise.all(codes.map((code) => postJson(`${unbound.apiUrl}/api/auth/mini/login`, { code })));
      expect(results.map((r) => r.status)).toEqual(Array(50).fill(200));
      expect(await storeStats(unbound.services.store)).toEqual({ users: 0, identities: 1, sessions: 50, records: 0 });
      expect(new Set(results.map((r) => r.body.user.id)).size).toBe(1);
      expect(results.filter((r) => r.body.isNewUser)).toHaveLength(1);
    } finally {
      await unbound.close();
    }
  });

  it('two different people get two different accounts, with unguessable ids, and never see each other\'s profile', async () => {
    const [alice, bob] = await Promise.all(['alice-two', 'bob-two'].map(async (who) => (await postJson(`${stack.apiUrl}/api/auth/mini/login`, { code: await simCode(stack, who) })).body));
    expect(alice.isNewUser).toBe(true);
    expect(bob.isNewUser).toBe(true);
    // 12 random bytes as lower-case hex: 96 bits, nothing to enumerate.
    expect(alice.user.id).toMatch(/^[0-9a-f]{24}$/);
    expect(bob.user.id).toMatch(/^[0-9a-f]{24}$/);
    expect(alice.user.id).not.toBe(bob.user.id);
    const me = async (token: string) => (await (await fetch(`${stack.apiUrl}/api/auth/me`, { headers: { authorization: `Bearer ${token}` } })).json()).user;
    const renamed = await fetch(`${stack.apiUrl}/api/auth/me`, { method: 'PATCH', headers: { 'content-type': 'application/json', authorization: `Bearer ${alice.token}` }, body: JSON.stringify({ nickname: '爱丽丝' }) });
    expect(renamed.status).toBe(200);
    expect((await me(alice.token)).nickname).toBe('爱丽丝');
    expect((await me(bob.token)).nickname).not.toBe('爱丽丝');
  });
});

describe('a duplicate-key error from the store', () => {
  it('is handled by re-reading the winner\'s link: the loser joins that account', async () => {
    const inner = new EmbeddedStore({ dir: null });
    const stack = await startStack({ overrides: { store: racingStore(inner, 'competitor0000000000000') } });
    try {
      const res = await postJson(`${stack.apiUrl}/api/auth/mini/login`, { code: await simCode(stack, 'racer') });
      expect(res.status).toBe(200);
      expect(res.body.user.id).toBe('competitor0000000000000');
      const stats = await storeStats(inner);
      expect(stats.users).toBe(1);
      expect(stats.identities).toBe(2);
      const me = await fetch(`${stack.apiUrl}/api/auth/me`, { headers: { authorization: `Bearer ${res.body.token}` } });
      expect((await me.json()).user.id).toBe('competitor0000000000000');
    } finally {
      await stack.close();
    }
  });

  // No database write happens before jscode2session any more (the code claim is gone, see
  // docs/API.md): a store outage is met on the first identity write, after WeChat answered.
  it('a database outage is a 503, not a crash, and nothing is written', async () => {
    const inner = new EmbeddedStore({ dir: null });
    const { StoreUnavailableError } = await import('../packages/server/src/store/types.js');
    const down = metered(inner, (call) => {
      if (/^(accounts|sessions)\.(update|upsert|insert)/.test(call)) throw new StoreUnavailableError('connection refused');
    });
    const stack = await startStack({ overrides: { store: down } });
    try {
      const res = await postJson(`${stack.apiUrl}/api/auth/mini/login`, { code: await simCode(stack, 'outage') });
      expect(res.status).toBe(503);
      expect(res.body.error.code).toBe('store_unavailable');
      expect(stack.sim.calls.get('jscode2session') ?? 0).toBe(1);
      expect(await storeStats(inner)).toEqual({ users: 0, identities: 0, sessions: 0, records: 0 });
    } finally {
      await stack.close();
    }
  });
});

describe('documents written before user copies existed', () => {
  it('an identity without a copy still logs in to its account (one user read)', async () => {
    const stack = await startStack({ openPlatformId: null });
    try {
      const store = stack.services.store;
      const then = new Date('2026-01-01T00:00:00.000Z');
      const openid = stack.sim.openid(stack.appid, 'veteran');
      await store.accounts.insertUserIfAbsent({ id: 'veteran0000000000000000', nickname: '老用户', avatarUrl: null, createdAt: then, updatedAt: then });
      await store.accounts.insertIdentity({ key: `oid:${stack.appid}:${openid}`, kind: 'oid', userId: 'veteran0000000000000000', appid: stack.appid, openid, unionid: null, sessionKey: null, createdAt: then, updatedAt: then });
      const res = await postJson(`${stack.apiUrl}/api/auth/mini/login`, { code: await simCode(stack, 'veteran') });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ isNewUser: false, user: { id: 'veteran0000000000000000', nickname: '老用户' } });
      const me = await fetch(`${stack.apiUrl}/api/auth/me`, { headers: { authorization: `Bearer ${res.body.token}` } });
      expect((await me.json()).user.nickname).toBe('老用户');
    } finally {
      await stack.close();
    }
  });
});

describe('unionid', () => {
  it('is recorded when WeChat returns one, and not invented when it does not', async () => {
    const bound = await startStack();
    const unbound = await startStack({ openPlatformId: null });
    try {
      await postJson(`${bound.apiUrl}/api/auth/mini/login`, { code: await simCode(bound, 'u1') });
      await postJson(`${unbound.apiUrl}/api/auth/mini/login`, { code: await simCode(unbound, 'u1') });
      const boundId = await bound.services.store.accounts.getIdentity(`oid:${bound.appid}:${bound.sim.openid(bound.appid, 'u1')}`);
      const unboundId = await unbound.services.store.accounts.getIdentity(`oid:${unbound.appid}:${unbound.sim.openid(unbound.appid, 'u1')}`);
      expect(boundId!.unionid).toMatch(/^o[\w-]{27}$/);
      expect(unboundId!.unionid).toBeNull();
      expect((await storeStats(unbound.services.store)).identities).toBe(1);
    } finally {
      await Promise.all([bound.close(), unbound.close()]);
    }
  });
});
