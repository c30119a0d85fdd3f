// The storage contract every Storage implementation must pass, port by port (packages/server/src/store/types.ts).
// Every test uses its own random keys, so the suite can run against a shared database; counts
// are compared as before/after deltas.
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DuplicateKeyError,
  type IdentityRecord,
  type SessionRecord,
  type Storage,
  type UserRecord,
} from '../packages/server/src/store/types.js';
import { claimOnce, defineRecord } from '../packages/server/src/store/records.js';
import { compareAndSetRecord, getRecord, storeStats, withPort } from './support/records.js';
import { z } from 'zod';

const rid = (prefix: string) => `${prefix}-${randomUUID()}`;
const minutes = (n: number) => new Date(Date.now() + n * 60_000);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Millisecond precision: what BSON dates and JSON keep. */
const at = (iso: string) => new Date(iso);

function makeUser(overrides: Partial<UserRecord> = {}): UserRecord {
  return {
    id: rid('u'),
    nickname: 'Alice',
    avatarUrl: 'https://example.test/a.png',
    createdAt: at('2026-01-02T03:04:05.678Z'),
    updatedAt: at('2026-01-02T03:04:05.678Z'),
    ...overrides,
  };
}

function makeIdentity(overrides: Partial<IdentityRecord> = {}): IdentityRecord {
  const openid = rid('o');
  return {
    key: `oid:wx0000000000000001:${openid}`,
    kind: 'oid',
    userId: rid('u'),
    appid: 'wx0000000000000001',
    openid,
    unionid: null,
    sessionKey: { kid: 'k1', data: randomBytes(40).toString('base64url') },
    createdAt: at('2026-02-03T04:05:06.789Z'),
    updatedAt: at('2026-02-03T04:05:06.789Z'),
    ...overrides,
  };
}

function makeSession(userId: string, overrides: Partial<SessionRecord> = {}): SessionRecord {
  return {
    id: randomBytes(32).toString('hex'),
    userId,
    via: 'mini',
    createdAt: new Date(Math.floor(Date.now() / 1000) * 1000),
    expiresAt: minutes(60),
    ...overrides,
  };
}

/** Runs all promises; returns how many fulfilled and the rejection reasons. */
async function settle<T>(promises: Promise<T>[]) {
  const results = await Promise.allSettled(promises);
  const values = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const errors = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
  return { values, errors };
}

/** `store` whose record reads are always asked at `at` (whatever time the caller gives). */
function storeAsked(store: Storage, at: Date): Storage {
  return withPort(store, 'records', { get: (ids: readonly string[]) => store.records.get(ids, at) });
}

/** A one-time claim through store/records.ts (RecordPort.put over an absent or expired record), at `now`. */
function claim(store: Storage, key: string, expiresAt: Date, now: Date): Promise<void> {
  return claimOnce({ store, clock: () => now }, key, expiresAt);
}

/** RecordPort.get on this process's clock. */
function getRecords(store: Storage, ids: string[]) {
  return store.records.get(ids, new Date());
}

/**
 * The contract every Storage implementation must pass, one describe per port (SessionPort,
 * AccountPort, RecordPort, BlobPort, CounterPort) plus the lifecycle. `stats()` (document counts)
 * is the implementations' own diagnostic, not part of Storage.
 */
export function runStoreContract(name: string, makeStore: () => Promise<Storage>): void {
  describe(`Store contract: ${name}`, () => {
    let store: Storage;

    beforeAll(async () => {
      store = await makeStore();
    });

    afterAll(async () => {
      await store?.close();
    });

    describe('SessionPort', () => {
      describe('sessions', () => {
        it('insert, get with user, extend, list, delete', async () => {
          const user = makeUser();
          await store.accounts.insertUserIfAbsent(user);
          const s1 = makeSession(user.id);
          const s2 = makeSession(user.id, { via: 'web-qr' });
          await store.sessions.insert(s1);
          await store.sessions.insert(s2);

          expect(await store.sessions.get(s1.id)).toEqual(s1);
          expect(await store.sessions.get(randomBytes(32).toString('hex'))).toBeNull();

          const later = minutes(120);
          await store.sessions.updateExpiration(s1.id, later);
          expect(await store.sessions.get(s1.id)).toEqual({ ...s1, expiresAt: later });
          await store.sessions.updateExpiration(randomBytes(32).toString('hex'), later); // missing: no-op

          const listed = await store.sessions.listByUser(user.id);
          expect(listed.map((s) => s.id).sort()).toEqual([s1.id, s2.id].sort());
          expect(listed.find((s) => s.id === s2.id)).toEqual(s2);
          expect(await store.sessions.listByUser(rid('u'))).toEqual([]);

          await store.sessions.delete(s1.id);
          expect(await store.sessions.get(s1.id)).toBeNull();
          expect((await store.sessions.listByUser(user.id)).map((s) => s.id)).toEqual([s2.id]);
          await store.sessions.delete(s1.id); // already gone: no-op
        });

        it("keeps a mini-program session's sealed session_key with the session", async () => {
          const user = makeUser();
          await store.accounts.insertUserIfAbsent(user);
          const s = { ...makeSession(user.id), wxSessionKey: { identity: `oid:wx00000000000000d1:${rid('o')}`, sealed: { kid: 'k1', data: 'c2VhbGVk' } } };
          await store.sessions.insert(s);
          expect(await store.sessions.get(s.id)).toEqual(s);
          expect((await store.sessions.listByUser(user.id))[0]).toEqual(s);
        });

        it('50 concurrent inserts all land; a duplicate among them fails alone', async () => {
          // The MongoDB store group-commits concurrent session inserts into one command: every caller
          // must still get its own answer, and nothing acknowledged may be missing.
          const user = makeUser();
          await store.accounts.insertUserIfAbsent(user);
          const existing = makeSession(user.id);
          await store.sessions.insert(existing);
          const fresh = Array.from({ length: 50 }, () => makeSession(user.id));
          const calls = [...fresh.slice(0, 25), existing, ...fresh.slice(25)].map((s) => store.sessions.insert(s));
          const results = await Promise.allSettled(calls);
          const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [[i, r.reason] as const] : []));
          expect(failed.map(([i]) => i)).toEqual([25]);
          expect(failed[0]![1]).toBeInstanceOf(DuplicateKeyError);
          expect((failed[0]![1] as DuplicateKeyError).key).toBe(existing.id);
          for (const s of fresh) expect(await store.sessions.get(s.id)).toEqual(s);
          expect((await store.sessions.listByUser(user.id)).length).toBe(51);
        });

        it('deleteUserSessions removes every session of that user only', async () => {
          const a = makeUser();
          const b = makeUser();
          await store.accounts.insertUserIfAbsent(a);
          await store.accounts.insertUserIfAbsent(b);
          const sa = [makeSession(a.id), makeSession(a.id, { via: 'oa' }), makeSession(a.id)];
          const sb = makeSession(b.id);
          for (const s of [...sa, sb]) await store.sessions.insert(s);

          await store.sessions.deleteByUser(a.id);
          expect(await store.sessions.listByUser(a.id)).toEqual([]);
          for (const s of sa) expect(await store.sessions.get(s.id)).toBeNull();
          expect(await store.sessions.get(sb.id)).toEqual(sb);
        });

        it('reassignSessions moves every session of one user to another', async () => {
          const a = makeUser();
          const b = makeUser();
          await store.accounts.insertUserIfAbsent(a);
          await store.accounts.insertUserIfAbsent(b);
          const sa = [makeSession(a.id), makeSession(a.id)];
          const sb = makeSession(b.id);
          for (const s of [...sa, sb]) await store.sessions.insert(s);

          await store.sessions.reassign(a.id, b.id);
          expect(await store.sessions.listByUser(a.id)).toEqual([]);
          expect((await store.sessions.listByUser(b.id)).map((s) => s.id).sort()).toEqual([...sa, sb].map((s) => s.id).sort());
          expect(await store.sessions.get(sa[0]!.id)).toEqual({ ...sa[0]!, userId: b.id });
          await store.sessions.reassign(rid('u'), b.id); // nothing to move: no-op
        });

        it('rejects a duplicate session id with DuplicateKeyError', async () => {
          const session = makeSession(rid('u'));
          await store.sessions.insert(session);
          await expect(store.sessions.insert(session)).rejects.toBeInstanceOf(DuplicateKeyError);
        });

        // One clock decides expiry (the SessionManager's): a store returns and lists what it holds.
        it('an expired session is still returned and listed: the store does not judge expiry', async () => {
          const user = makeUser();
          await store.accounts.insertUserIfAbsent(user);
          const expired = makeSession(user.id, { expiresAt: new Date(Date.now() - 1000) });
          const live = makeSession(user.id);
          await store.sessions.insert(expired);
          await store.sessions.insert(live);
          expect((await store.sessions.listByUser(user.id)).map((s) => s.id).sort()).toEqual([expired.id, live.id].sort());
          expect(await store.sessions.get(expired.id)).toEqual(expired);
        });

        it('a session carries a copy of its user, rewritten by setUserCopy', async () => {
          const user = makeUser({ phone: { phoneNumber: '13800000000', purePhoneNumber: '13800000000', countryCode: '86', verifiedAt: at('2026-06-07T08:09:10.111Z') }, mergedInto: null });
          await store.accounts.insertUserIfAbsent(user);
          const session = makeSession(user.id, { user });
          const other = makeSession(rid('u'));
          await store.sessions.insert(session);
          await store.sessions.insert(other);
          expect(await store.sessions.get(session.id)).toEqual(session);
          const changed = { ...user, nickname: 'Renamed', updatedAt: at('2026-06-08T00:00:00.000Z') };
          await store.sessions.setUserCopy(changed);
          expect(await store.sessions.get(session.id)).toEqual({ ...session, user: changed });
          expect(await store.sessions.get(other.id)).toEqual(other);
        });
      });

    });

    describe('AccountPort', () => {
      describe('identities', () => {
        it('round-trips an identity, sealed session key included', async () => {
          const identity = makeIdentity();
          await store.accounts.insertIdentity(identity);
          const stored = await store.accounts.getIdentity(identity.key);
          expect(stored).toEqual(identity);
          expect(stored?.sessionKey).toEqual({ kid: identity.sessionKey!.kid, data: identity.sessionKey!.data });
          expect(await store.accounts.getIdentity(rid('oid:missing'))).toBeNull();
        });

        it('round-trips a unionid identity with null fields', async () => {
          const identity = makeIdentity({ key: `uid:${rid('un')}`, kind: 'uid', appid: null, openid: null, unionid: rid('un'), sessionKey: null });
          await store.accounts.insertIdentity(identity);
          expect(await store.accounts.getIdentity(identity.key)).toEqual(identity);
        });

        it('rejects a duplicate identity with DuplicateKeyError and keeps the first', async () => {
          const identity = makeIdentity();
          await store.accounts.insertIdentity(identity);
          const error = await store.accounts.insertIdentity({ ...identity, userId: rid('u') }).catch((e: unknown) => e);
          expect(error).toBeInstanceOf(DuplicateKeyError);
          expect((error as DuplicateKeyError).key).toBe(identity.key);
          expect((await store.accounts.getIdentity(identity.key))?.userId).toBe(identity.userId);
        });

        it('20 concurrent inserts of one identity key: exactly one succeeds, one document stored', async () => {
          const base = makeIdentity();
          const before = (await storeStats(store)).identities;
          const attempts = Array.from({ length: 20 }, () => ({ ...base, userId: rid('u') }));
          const { values, errors } = await settle(attempts.map((identity) => store.accounts.insertIdentity(identity)));
          expect(values).toHaveLength(1);
          expect(errors).toHaveLength(19);
          for (const e of errors) expect(e).toBeInstanceOf(DuplicateKeyError);
          expect((await storeStats(store)).identities - before).toBe(1);
          const stored = await store.accounts.getIdentity(base.key);
          expect(attempts.map((a) => a.userId)).toContain(stored?.userId);
        });

        it('updateIdentity returns the updated record, or null when missing', async () => {
          const identity = makeIdentity();
          await store.accounts.insertIdentity(identity);
          const now = at('2026-03-04T05:06:07.891Z');
          const sessionKey = { kid: 'k2', data: randomBytes(40).toString('base64url') };
          const updated = await store.accounts.updateIdentity(identity.key, { sessionKey, unionid: 'union-1' }, now);
          expect(updated).toEqual({ ...identity, sessionKey, unionid: 'union-1', updatedAt: now });
          expect(await store.accounts.getIdentity(identity.key)).toEqual(updated);

          const partial = await store.accounts.updateIdentity(identity.key, { sessionKey: null }, now);
          expect(partial).toEqual({ ...identity, sessionKey: null, unionid: 'union-1', updatedAt: now });

          expect(await store.accounts.updateIdentity(rid('oid:missing'), { unionid: 'x' }, now)).toBeNull();
          expect(await store.accounts.getIdentity(rid('oid:missing'))).toBeNull();
        });

        it('insertIdentities inserts in order and stops at the first duplicate, naming it', async () => {
          const user = makeUser();
          const uid = makeIdentity({ key: `uid:${rid('un')}`, kind: 'uid', appid: null, openid: null, unionid: rid('un'), sessionKey: null, userId: user.id, user });
          const oid = makeIdentity({ userId: user.id, user });
          await store.accounts.insertIdentities([uid, oid]);
          expect(await store.accounts.getIdentity(uid.key)).toEqual(uid);
          expect(await store.accounts.getIdentity(oid.key)).toEqual(oid);
          const fresh = makeIdentity();
          const error = await store.accounts.insertIdentities([{ ...uid, userId: rid('u') }, fresh]).catch((e: unknown) => e);
          expect(error).toBeInstanceOf(DuplicateKeyError);
          expect((error as DuplicateKeyError).key).toBe(uid.key);
          expect(await store.accounts.getIdentity(fresh.key)).toBeNull();
          expect((await store.accounts.getIdentity(uid.key))?.userId).toBe(user.id);
        });

        it('setUserCopy rewrites the copy on every identity of that user only', async () => {
          const user = makeUser();
          const a = makeIdentity({ userId: user.id, user });
          const b = makeIdentity({ userId: user.id });
          const other = makeIdentity({ user: makeUser() });
          for (const i of [a, b, other]) await store.accounts.insertIdentity(i);
          const changed = { ...user, avatarUrl: null, updatedAt: at('2026-05-06T07:08:09.101Z') };
          await store.accounts.setUserCopy(changed);
          expect(await store.accounts.getIdentity(a.key)).toEqual({ ...a, user: changed });
          expect(await store.accounts.getIdentity(b.key)).toEqual({ ...b, user: changed });
          expect(await store.accounts.getIdentity(other.key)).toEqual(other);
          // An older change arriving late does not overwrite a newer copy.
          await store.accounts.setUserCopy({ ...user, nickname: 'Stale', updatedAt: at('2026-05-01T00:00:00.000Z') });
          expect((await store.accounts.getIdentity(a.key))?.user).toEqual(changed);
        });

        it('lists, reassigns (only from the expected owner) and deletes identities', async () => {
          const a = rid('u');
          const b = rid('u');
          const i1 = makeIdentity({ userId: a });
          const i2 = makeIdentity({ key: `uid:${rid('un')}`, kind: 'uid', appid: null, openid: null, unionid: rid('un'), sessionKey: null, userId: a });
          const other = makeIdentity({ userId: b });
          for (const i of [i1, i2, other]) await store.accounts.insertIdentity(i);

          const listed = await store.accounts.listIdentities(a);
          expect(listed.map((i) => i.key).sort()).toEqual([i1.key, i2.key].sort());
          expect(listed.find((i) => i.key === i1.key)).toEqual(i1);
          expect(await store.accounts.listIdentities(rid('u'))).toEqual([]);

          const now = at('2026-03-04T05:06:07.891Z');
          expect(await store.accounts.reassignIdentity(i1.key, b, a, now)).toBe(false); // not b's
          expect(await store.accounts.reassignIdentity(i1.key, a, b, now)).toBe(true);
          expect(await store.accounts.reassignIdentity(i1.key, a, b, now)).toBe(false); // already moved
          expect(await store.accounts.reassignIdentity(rid('oid:missing'), a, b, now)).toBe(false);
          expect(await store.accounts.getIdentity(i1.key)).toEqual({ ...i1, userId: b, updatedAt: now });
          expect((await store.accounts.listIdentities(a)).map((i) => i.key)).toEqual([i2.key]);
          expect((await store.accounts.listIdentities(b)).map((i) => i.key).sort()).toEqual([i1.key, other.key].sort());

          await store.accounts.deleteIdentity(i2.key);
          expect(await store.accounts.getIdentity(i2.key)).toBeNull();
          expect(await store.accounts.listIdentities(a)).toEqual([]);
          await store.accounts.deleteIdentity(i2.key); // already gone: no-op
          // A deleted key can be inserted again.
          await expect(store.accounts.insertIdentity(i2)).resolves.toBeUndefined();
        });
      });

      describe('users', () => {
        it('insertUserIfAbsent inserts, then returns the existing user unchanged', async () => {
          const user = makeUser();
          expect(await store.accounts.insertUserIfAbsent(user)).toEqual(user);
          const again = await store.accounts.insertUserIfAbsent({ ...user, nickname: 'Bob', avatarUrl: null, updatedAt: new Date() });
          expect(again).toEqual(user);
          expect(await store.accounts.getUser(user.id)).toEqual(user);
          expect(await store.accounts.getUser(rid('u'))).toBeNull();
        });

        it('20 concurrent insertUserIfAbsent of one id: one user document, everyone gets it', async () => {
          const id = rid('u');
          const before = (await storeStats(store)).users;
          const attempts = Array.from({ length: 20 }, (_, i) => makeUser({ id, nickname: `n${i}` }));
          const { values, errors } = await settle(attempts.map((u) => store.accounts.insertUserIfAbsent(u)));
          expect(errors).toEqual([]);
          expect(values).toHaveLength(20);
          const stored = await store.accounts.getUser(id);
          expect(stored).not.toBeNull();
          for (const v of values) expect(v).toEqual(stored);
          expect((await storeStats(store)).users - before).toBe(1);
        });

        it('round-trips phone and mergedInto, and patches them', async () => {
          const phone = { phoneNumber: '+86 13800000000', purePhoneNumber: '13800000000', countryCode: '86', verifiedAt: at('2026-06-07T08:09:10.111Z') };
          const user = makeUser({ phone, mergedInto: null });
          expect(await store.accounts.insertUserIfAbsent(user)).toEqual(user);
          const stored = await store.accounts.getUser(user.id);
          expect(stored).toEqual(user);
          expect(stored?.phone?.verifiedAt).toBeInstanceOf(Date);

          const now = at('2026-06-08T00:00:00.000Z');
          const into = rid('u');
          expect(await store.accounts.updateUser(user.id, { mergedInto: into, phone: null }, now)).toEqual({ ...user, phone: null, mergedInto: into, updatedAt: now });
          const plain = makeUser();
          await store.accounts.insertUserIfAbsent(plain);
          expect(await store.accounts.updateUser(plain.id, { phone }, now)).toEqual({ ...plain, phone, updatedAt: now });
        });

        it('a user known only by the copy on its identities: getUser returns it, updateUser writes the record', async () => {
          const user = makeUser({ nickname: 'Copy' });
          const identity = makeIdentity({ userId: user.id, user });
          await store.accounts.insertIdentity(identity);
          const before = (await storeStats(store)).users;
          expect(await store.accounts.getUser(user.id)).toEqual(user);
          const now = at('2026-04-05T06:07:08.912Z');
          const { values, errors } = await settle(Array.from({ length: 20 }, () => store.accounts.updateUser(user.id, { avatarUrl: null }, now)));
          expect(errors).toEqual([]);
          for (const v of values) expect(v).toEqual({ ...user, avatarUrl: null, updatedAt: now });
          expect((await storeStats(store)).users - before).toBe(1);
          expect(await store.accounts.getUser(user.id)).toEqual({ ...user, avatarUrl: null, updatedAt: now });
          // A copy on an identity of ANOTHER user (moved by a merge) does not stand for this one.
          const moved = makeUser();
          await store.accounts.insertIdentity(makeIdentity({ userId: rid('u'), user: moved }));
          expect(await store.accounts.getUser(moved.id)).toBeNull();
          expect(await store.accounts.updateUser(moved.id, { nickname: 'x' }, now)).toBeNull();
        });

        it('deleteUser removes the user', async () => {
          const user = makeUser();
          await store.accounts.insertUserIfAbsent(user);
          await store.accounts.deleteUser(user.id);
          expect(await store.accounts.getUser(user.id)).toBeNull();
          await store.accounts.deleteUser(user.id); // already gone: no-op
          const again = makeUser({ id: user.id, nickname: 'Again' });
          expect(await store.accounts.insertUserIfAbsent(again)).toEqual(again);
        });

        it('updateUser patches the given fields only, or returns null when missing', async () => {
          const user = makeUser();
          await store.accounts.insertUserIfAbsent(user);
          const now = at('2026-04-05T06:07:08.912Z');
          const updated = await store.accounts.updateUser(user.id, { nickname: 'Carol' }, now);
          expect(updated).toEqual({ ...user, nickname: 'Carol', updatedAt: now });
          expect(await store.accounts.getUser(user.id)).toEqual(updated);

          const cleared = await store.accounts.updateUser(user.id, { avatarUrl: null }, now);
          expect(cleared).toEqual({ ...user, nickname: 'Carol', avatarUrl: null, updatedAt: now });

          expect(await store.accounts.updateUser(rid('u'), { nickname: 'x' }, now)).toBeNull();
        });
      });


      describe('merged accounts', () => {
        it('getUsersMergedInto lists the accounts merged into a user', async () => {
          const into = makeUser();
          const a = makeUser();
          const b = makeUser();
          for (const u of [into, a, b]) await store.accounts.insertUserIfAbsent(u);
          await store.accounts.updateUser(a.id, { mergedInto: into.id }, new Date());
          await store.accounts.updateUser(b.id, { mergedInto: into.id }, new Date());
          expect((await store.accounts.listMergedInto(into.id)).map((u) => u.id).sort()).toEqual([a.id, b.id].sort());
          expect(await store.accounts.listMergedInto(a.id)).toEqual([]);
        });
      });
    });

    describe('RecordPort', () => {
      describe('versioned records', () => {
        it('put answers the version it wrote (null when refused)', async () => {
          const id = rid('rec');
          const now = new Date();
          expect(await store.records.put(id, { n: 1 }, null, null, now)).toBe(1);
          expect(await store.records.put(id, { n: 2 }, 1, null, now)).toBe(2);
          expect(await store.records.put(id, { n: 3 }, 1, null, now)).toBeNull();
          expect(await store.records.put(id, { n: 3 }, null, null, now)).toBeNull(); // live: not absent
          expect((await store.records.get([id], now)).get(id)).toEqual({ value: { n: 2 }, version: 2, expiresAt: null });
        });

        it("put over a record expired at the caller's now takes it over (the version goes on); live at now it is refused", async () => {
          const id = rid('rec');
          const t0 = new Date(Date.now() + 3_600_000); // ahead of the store's own clock
          const until = new Date(t0.getTime() + 60_000);
          expect(await store.records.put(id, { n: 1 }, null, until, t0)).toBe(1);
          // live at until - 1 ms, by the caller's clock
          expect(await store.records.put(id, { n: 2 }, null, until, new Date(until.getTime() - 1))).toBeNull();
          expect((await store.records.get([id], new Date(until.getTime() - 1))).get(id)?.value).toEqual({ n: 1 });
          // expired at until (though not by Date.now(), which is an hour behind)
          expect((await store.records.get([id], until)).size).toBe(0);
          expect(await store.records.put(id, { n: 3 }, null, new Date(until.getTime() + 60_000), until)).toBe(2);
          expect((await store.records.get([id], until)).get(id)).toEqual({ value: { n: 3 }, version: 2, expiresAt: new Date(until.getTime() + 60_000) });
        });

        it('compareAndSetRecord writes only over the expected version', async () => {
          const id = rid('rec');
          expect(await getRecord(store, id)).toBeNull();
          expect(await compareAndSetRecord(store, id, { token: 'a' }, 1)).toBe(false);
          expect(await compareAndSetRecord(store, id, { token: 'a', n: 1, nested: { ok: true } }, null)).toBe(true);
          expect(await getRecord(store, id)).toEqual({ value: { token: 'a', n: 1, nested: { ok: true } }, version: 1 });
          expect(await compareAndSetRecord(store, id, { token: 'b' }, null)).toBe(false);
          expect(await compareAndSetRecord(store, id, { token: 'b' }, 2)).toBe(false);
          expect(await compareAndSetRecord(store, id, { token: 'b' }, 1)).toBe(true);
          expect(await compareAndSetRecord(store, id, { token: 'c' }, 1)).toBe(false);
          expect(await getRecord(store, id)).toEqual({ value: { token: 'b' }, version: 2 });
        });

        it('getRecords reads many records at once: the newest version of each live one, absent and expired ones left out', async () => {
          const a = rid('rec');
          const b = rid('rec');
          const expired = rid('rec');
          const missing = rid('rec');
          expect(await compareAndSetRecord(store, a, { n: 1 }, null, minutes(5))).toBe(true);
          expect(await compareAndSetRecord(store, a, { n: 2 }, 1, minutes(5))).toBe(true);
          expect(await compareAndSetRecord(store, b, { n: 9 }, null)).toBe(true);
          expect(await compareAndSetRecord(store, expired, { n: 0 }, null, new Date(Date.now() - 1000))).toBe(true);
          const found = await getRecords(store, [a, b, expired, missing, a]);
          expect([...found.keys()].sort()).toEqual([a, b].sort());
          expect(found.get(a)).toEqual({ value: { n: 2 }, version: 2, expiresAt: expect.any(Date) });
          expect(found.get(b)).toEqual({ value: { n: 9 }, version: 1, expiresAt: null });
          expect((await store.records.get([], new Date())).size).toBe(0);
        });

        it('20 concurrent compare-and-sets over one version: exactly one wins', async () => {
          const id = rid('rec');
          const { values: created } = await settle(Array.from({ length: 20 }, (_, i) => compareAndSetRecord(store, id, { w: i }, null)));
          expect(created.filter(Boolean)).toHaveLength(1);
          const first = await getRecord(store, id);
          expect(first?.version).toBe(1);

          const { values, errors } = await settle(Array.from({ length: 20 }, (_, i) => compareAndSetRecord(store, id, { w: 100 + i }, 1)));
          expect(errors).toEqual([]);
          expect(values.filter(Boolean)).toHaveLength(1);
          const second = await getRecord(store, id);
          expect(second?.version).toBe(2);
          expect(second?.value.w).toBeGreaterThanOrEqual(100);
        });
      });

      describe('claims', () => {
        it('claims a key once; the second claim throws DuplicateKeyError', async () => {
          const key = rid('claim');
          await expect(claim(store, key, minutes(5), new Date())).resolves.toBeUndefined();
          const error = await claim(store, key, minutes(5), new Date()).catch((e: unknown) => e);
          expect(error).toBeInstanceOf(DuplicateKeyError);
          expect((error as DuplicateKeyError).key).toBe(key);
        });

        it('lets an expired claim be claimed again (and only once)', async () => {
          const key = rid('claim');
          await claim(store, key, new Date(Date.now() + 150), new Date());
          await expect(claim(store, key, minutes(5), new Date())).rejects.toBeInstanceOf(DuplicateKeyError);
          await sleep(300);
          await expect(claim(store, key, minutes(5), new Date())).resolves.toBeUndefined();
          await expect(claim(store, key, minutes(5), new Date())).rejects.toBeInstanceOf(DuplicateKeyError);
        });

        it('treats a claim stored with a past expiry as free', async () => {
          const key = rid('claim');
          await claim(store, key, new Date(Date.now() - 1000), new Date());
          await expect(claim(store, key, new Date(Date.now() - 1000), new Date())).resolves.toBeUndefined();
          await expect(claim(store, key, minutes(5), new Date())).resolves.toBeUndefined();
          await expect(claim(store, key, minutes(5), new Date())).rejects.toBeInstanceOf(DuplicateKeyError);
        });

        it("judges a claim's expiry by the caller's clock, not the store's", async () => {
          const key = rid('claim');
          const t0 = new Date(Date.now() + 3_600_000); // an hour ahead of the store's own clock
          await claim(store, key, new Date(t0.getTime() + 60_000), t0);
          // At t0 + 30 s the claim is live; at t0 + 2 min it is over — though by Date.now() it is not.
          await expect(claim(store, key, new Date(t0.getTime() + 600_000), new Date(t0.getTime() + 30_000))).rejects.toBeInstanceOf(DuplicateKeyError);
          await expect(claim(store, key, new Date(t0.getTime() + 600_000), new Date(t0.getTime() + 120_000))).resolves.toBeUndefined();
        });

        it('20 concurrent claims of one key: exactly one succeeds', async () => {
          const key = rid('claim');
          const { values, errors } = await settle(Array.from({ length: 20 }, () => claim(store, key, minutes(5), new Date())));
          expect(values).toHaveLength(1);
          expect(errors).toHaveLength(19);
          for (const e of errors) expect(e).toBeInstanceOf(DuplicateKeyError);
        });

        it('20 concurrent claims of one EXPIRED key: exactly one succeeds', async () => {
          const key = rid('claim');
          await claim(store, key, new Date(Date.now() - 1000), new Date());
          const { values, errors } = await settle(Array.from({ length: 20 }, () => claim(store, key, minutes(5), new Date())));
          expect(values).toHaveLength(1);
          for (const e of errors) expect(e).toBeInstanceOf(DuplicateKeyError);
        });
      });

      describe('typed temporary records (store/records.ts: the one judge of expiry)', () => {
        const Doc = z.object({ n: z.number() });
        // one base behind the process clock (the store must not hide the record by Date.now()),
        // one far ahead of it (the store must not show it by Date.now())
        const bases = [Date.parse('2001-02-03T04:05:06.789Z'), Date.now() + 10 * 365 * 86_400_000];

        it('a record is live at expiresAt - 1 ms and gone at expiresAt, on the injected clock only', async () => {
          for (const base of bases) {
            let t = base;
            const deps = { store, clock: () => new Date(t) };
            const kind = defineRecord({ prefix: rid('kind'), schema: () => Doc, ttlMs: 60_000 });
            const created = await kind.create(deps, 'k', { n: 1 });
            expect(created?.expiresAt.getTime()).toBe(base + 60_000);
            t = base + 60_000 - 1;
            expect(await kind.read(deps, 'k')).toEqual({ key: 'k', value: { n: 1 }, version: 1, expiresAt: new Date(base + 60_000) });
            expect([...(await kind.readMany(deps, ['k', 'absent'])).keys()]).toEqual(['k']);
            const updated = await kind.update(deps, (await kind.read(deps, 'k'))!, { n: 2 });
            expect(updated).toEqual({ key: 'k', value: { n: 2 }, version: 2, expiresAt: new Date(base + 60_000) });
            expect((await kind.read(deps, 'k'))?.value).toEqual({ n: 2 });
            t = base + 60_000;
            expect(await kind.read(deps, 'k')).toBeNull();
            expect((await kind.readMany(deps, ['k'])).size).toBe(0);
            // records.ts judges by itself: through a store that hands back what it holds (it is asked
            // at the epoch), the record is still there, and records.ts still calls it gone
            const holding = { store: storeAsked(store, new Date(0)), clock: deps.clock };
            expect((await getRecord(holding.store, kind.id('k')))?.value).toEqual({ n: 2 });
            expect(await kind.read(holding, 'k')).toBeNull();
            expect((await kind.readMany(holding, ['k'])).size).toBe(0);
            // an expired id may be created again: a new life for the record, its version goes on
            // (exactly one of racing creators wins: the claim tests below)
            expect(await kind.create(deps, 'k', { n: 3 })).toEqual({ key: 'k', value: { n: 3 }, version: 3, expiresAt: new Date(t + 60_000) });
            expect((await kind.read(deps, 'k'))?.value).toEqual({ n: 3 });
          }
        });

        it('a stored value that does not parse reads as absent and is logged once, never a crash', async () => {
          const lines: { level: string; event: string; fields?: Record<string, unknown> }[] = [];
          const logger = { log: (level: string, event: string, fields?: Record<string, unknown>) => void lines.push({ level, event, fields }) };
          const t = Date.now();
          const deps = { store, clock: () => new Date(t), logger };
          const kind = defineRecord({ prefix: rid('kind'), schema: () => Doc, ttlMs: 60_000 });
          expect(await compareAndSetRecord(store, kind.id('bad'), { n: 'not a number', secret: 'x' }, null, new Date(t + 60_000))).toBe(true);
          expect(await kind.read(deps, 'bad')).toBeNull();
          expect(await kind.read(deps, 'bad')).toBeNull();
          expect((await kind.readMany(deps, ['bad'])).size).toBe(0);
          expect(lines.map((l) => l.event)).toEqual(['store.record.unparseable']);
          expect(JSON.stringify(lines)).not.toContain('not a number');
          // a record with no expiresAt is not a temporary record: absent for the helper
          expect(await compareAndSetRecord(store, kind.id('permanent'), { n: 1 }, null)).toBe(true);
          expect(await kind.read(deps, 'permanent')).toBeNull();
        });
      });


      describe('temporary records (issue 10 finding 2)', () => {
        it('a record with expiresAt reads as absent once expired, and the sweep deletes it', async () => {
          const live = rid('tmp');
          const gone = rid('tmp');
          const kept = rid('keep');
          const goneAt = new Date(Date.now() + 150);
          expect(await compareAndSetRecord(store, live, { v: 1 }, null, minutes(5))).toBe(true);
          expect(await compareAndSetRecord(store, gone, { v: 1 }, null, goneAt)).toBe(true);
          expect(await compareAndSetRecord(store, kept, { v: 1 }, null)).toBe(true);
          expect(await getRecord(store, gone)).toEqual({ value: { v: 1 }, version: 1, expiresAt: goneAt });
          await sleep(250);
          // checked in the query, whatever the server's TTL support
          expect(await getRecord(store, gone)).toBeNull();
          expect(await getRecord(store, live)).toEqual({ value: { v: 1 }, version: 1, expiresAt: expect.any(Date) });
          const claimKey = rid('claim');
          await claim(store, claimKey, new Date(Date.now() - 1000), new Date());
          const session = makeSession(rid('u'), { expiresAt: new Date(Date.now() - 1000) });
          await store.sessions.insert(session);
          const removed = await store.sweepExpired(new Date());
          expect(removed).toBeGreaterThanOrEqual(3);
          expect(await getRecord(store, live)).not.toBeNull();
          expect(await getRecord(store, kept)).not.toBeNull();
          // the expired claim is gone from storage: a new claim with the key is a plain insert
          const before = (await storeStats(store)).records;
          await claim(store, claimKey, minutes(5), new Date());
          expect((await storeStats(store)).records - before).toBe(1);
          expect(await store.sweepExpired(new Date())).toBe(0);
        });

      });
    });

    describe('BlobPort', () => {
      describe('blobs', () => {
        it('stores, overwrites and deletes binary data byte for byte', async () => {
          const id = rid('blob');
          const data = Buffer.concat([randomBytes(2048), Buffer.from([0, 255, 0, 1])]);
          const createdAt = at('2026-07-08T09:10:11.121Z');
          expect(await store.blobs.get(id)).toBeNull();
          await store.blobs.put({ id, contentType: 'image/jpeg', data, createdAt });
          const stored = await store.blobs.get(id);
          expect(stored?.id).toBe(id);
          expect(stored?.contentType).toBe('image/jpeg');
          expect(Buffer.isBuffer(stored?.data)).toBe(true);
          expect(stored?.data.equals(data)).toBe(true);
          expect(stored?.createdAt).toEqual(createdAt);

          const next = randomBytes(100);
          await store.blobs.put({ id, contentType: 'image/png', data: next, createdAt });
          const replaced = await store.blobs.get(id);
          expect(replaced?.contentType).toBe('image/png');
          expect(replaced?.data.equals(next)).toBe(true);

          await store.blobs.delete(id);
          expect(await store.blobs.get(id)).toBeNull();
          await store.blobs.delete(id); // already gone: no-op
        });

        it('keeps the uploader of a blob (null when none was recorded)', async () => {
          const owned = rid('blob');
          await store.blobs.put({ id: owned, contentType: 'image/jpeg', data: randomBytes(10), ownerId: 'user-1', createdAt: new Date() });
          expect((await store.blobs.get(owned))?.ownerId).toBe('user-1');
          const legacy = rid('blob');
          await store.blobs.put({ id: legacy, contentType: 'image/jpeg', data: randomBytes(10), createdAt: new Date() });
          expect((await store.blobs.get(legacy))?.ownerId).toBeNull();
        });
      });

    });

    describe('CounterPort', () => {
      it('syncCounters sums every instance\'s counts per key and window; rewriting is idempotent', async () => {
        const key = rid('ctr');
        const other = rid('ctr');
        const window = Math.floor(Date.now() / 60_000) * 60_000;
        const expiresAt = new Date(window + 120_000);
        const now = new Date();
        expect(await store.counters.sync('i1', [{ key, window, count: 3, expiresAt }], now)).toEqual([{ key, window, total: 3 }]);
        expect(await store.counters.sync('i2', [{ key, window, count: 4, expiresAt }, { key: other, window, count: 1, expiresAt }], now)).toEqual([
          { key, window, total: 7 },
          { key: other, window, total: 1 },
        ]);
        // i1's absolute count rises to 5: rewritten, not added
        expect(await store.counters.sync('i1', [{ key, window, count: 5, expiresAt }], now)).toEqual([{ key, window, total: 9 }]);
        // another window of the same key is counted apart
        expect(await store.counters.sync('i1', [{ key, window: window + 60_000, count: 1, expiresAt: new Date(window + 180_000) }], now)).toEqual([
          { key, window: window + 60_000, total: 1 },
        ]);
        expect(await store.counters.sync('i1', [], now)).toEqual([]);
        // expired counters no longer count, and the sweep removes them
        const past = Math.floor(Date.now() / 60_000) * 60_000 - 10 * 60_000;
        await store.counters.sync('i1', [{ key: other, window: past, count: 9, expiresAt: new Date(past + 120_000) }], now);
        expect(await store.counters.sync('i2', [{ key: other, window: past, count: 1, expiresAt: new Date(past + 120_000) }], now)).toEqual([
          { key: other, window: past, total: 0 },
        ]);
        expect(await store.sweepExpired(new Date())).toBeGreaterThanOrEqual(2);
      });

    });

    describe('lifecycle and every port', () => {
      it('ping answers while the store is up', async () => {
        await expect(store.ping()).resolves.toBeUndefined();
      });


      it('returns Dates as Date instances', async () => {
        const user = makeUser();
        const identity = makeIdentity({ userId: user.id });
        const session = makeSession(user.id);
        await store.accounts.insertUserIfAbsent(user);
        await store.accounts.insertIdentity(identity);
        await store.sessions.insert(session);

        const u = await store.accounts.getUser(user.id);
        const i = await store.accounts.getIdentity(identity.key);
        const s = await store.sessions.get(session.id);
        const su = u;
        const listed = await store.sessions.listByUser(user.id);
        const updated = await store.accounts.updateUser(user.id, { nickname: 'D' }, new Date());
        const updatedIdentity = await store.accounts.updateIdentity(identity.key, { unionid: 'u' }, new Date());
        for (const d of [
          u?.createdAt, u?.updatedAt, i?.createdAt, i?.updatedAt, s?.createdAt, s?.expiresAt, su?.createdAt,
          listed[0]?.expiresAt, updated?.updatedAt, updatedIdentity?.updatedAt,
        ]) {
          expect(d).toBeInstanceOf(Date);
        }
        expect(u?.createdAt.getTime()).toBe(user.createdAt.getTime());
        expect(s?.expiresAt.getTime()).toBe(session.expiresAt.getTime());
      });


      it('stats counts stored documents', async () => {
        const before = await storeStats(store);
        await store.accounts.insertUserIfAbsent(makeUser());
        await store.accounts.insertIdentity(makeIdentity());
        await store.sessions.insert(makeSession(rid('u')));
        await claim(store, rid('claim'), minutes(5), new Date());
        const after = await storeStats(store);
        expect(after.users - before.users).toBe(1);
        expect(after.identities - before.identities).toBe(1);
        expect(after.sessions - before.sessions).toBe(1);
        expect(after.records - before.records).toBe(1);
      });
    });
  });
}
