import { describe, expect, it } from 'vitest';
import { metered } from './support/records.js';
import { createSessionManager, SESSION_LIFETIME_MS } from '../packages/server/src/sessions/sessions.js';
import { sha256Hex } from '../packages/server/src/crypto/tokens.js';
import { EmbeddedStore } from '../packages/server/src/store/embedded.js';
import type { UserRecord } from '../packages/server/src/store/types.js';
import { setUserCopies } from '../packages/server/src/users/accounts.js';

const DAY = 24 * 60 * 60 * 1000;
const userRecord = (id: string, at = new Date()): UserRecord => ({ id, nickname: null, avatarUrl: null, createdAt: at, updatedAt: at });

// Known SHA-256 vectors, computed outside this code base:
//   FIPS 180-2 appendix B.1: SHA-256("abc")
//   `printf 'abcdefghijklmnopqrstuvwxyz234567' | sha256sum` (coreutils)
const ABC = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad';
const KNOWN_TOKEN = 'abcdefghijklmnopqrstuvwxyz234567';
const KNOWN_TOKEN_SHA256 = '84cb29b2c78b393c0d30a90d5a9f670267d02d9ec3743fc1800acff8b03bac15';

describe('sessions', () => {
  it('store only the SHA-256 of a 160-bit token (known vectors)', async () => {
    expect(sha256Hex('abc')).toBe(ABC);
    const store = new EmbeddedStore({ dir: null });
    const now = new Date();
    const user = userRecord('u1', now);
    await store.accounts.insertUserIfAbsent(user);
    // A session stored under the known hash is found by the known token, and by nothing else.
    await store.sessions.insert({ id: KNOWN_TOKEN_SHA256, userId: 'u1', via: 'mini', createdAt: now, expiresAt: new Date(now.getTime() + DAY), user });
    const sessions = createSessionManager(store);
    expect((await sessions.validate(KNOWN_TOKEN)).session?.id).toBe(KNOWN_TOKEN_SHA256);
    expect((await sessions.validate('bbcdefghijklmnopqrstuvwxyz234567')).session).toBeNull();
    // A created token is 32 base32 characters (160 bits) and is not what the store keeps.
    const { token, session } = await sessions.create(user, 'mini');
    expect(token).toMatch(/^[a-z2-7]{32}$/);
    expect(session.id).toMatch(/^[0-9a-f]{64}$/);
    expect(session.id).not.toContain(token);
    const stored = (await store.sessions.listByUser('u1')).map((s) => s.id);
    expect(stored).toHaveLength(2);
    expect(JSON.stringify(stored)).not.toContain(token);
  });

  it('slide forward when used in the second half of their life, and end when not used', async () => {
    const store = new EmbeddedStore({ dir: null });
    let now = Date.now();
    const sessions = createSessionManager(store, () => new Date(now));
    const user = userRecord('u1', new Date(now));
    await store.accounts.insertUserIfAbsent(user);
    const { token, session } = await sessions.create(user, 'mini');
    now += 10 * DAY;
    expect((await sessions.validate(token)).session!.expiresAt).toEqual(session.expiresAt); // first half: unchanged
    now += 10 * DAY;
    const slid = (await sessions.validate(token)).session!;
    expect(slid.expiresAt.getTime()).toBe(now + SESSION_LIFETIME_MS); // validate reports the new expiry
    expect((await store.sessions.get(slid.id))!.expiresAt.getTime()).toBe(now + SESSION_LIFETIME_MS);
    now += SESSION_LIFETIME_MS + 1;
    expect((await sessions.validate(token)).session).toBeNull();
    expect(await store.sessions.get(slid.id)).toBeNull(); // removed on sight
  });

  it('one clock decides expiry: the manager\'s, not the store\'s Date.now()', async () => {
    const store = new EmbeddedStore({ dir: null });
    const real = Date.now();
    let now = real - 40 * DAY; // the manager's clock runs 40 days behind the machine's
    const sessions = createSessionManager(store, () => new Date(now));
    const user = userRecord('u1');
    const { token, session } = await sessions.create(user, 'mini');
    expect(session.expiresAt.getTime()).toBeLessThan(real); // already past by the machine's clock
    expect((await sessions.validate(token)).session?.id).toBe(session.id);
    expect((await sessions.list('u1')).map((s) => s.id)).toEqual([session.id.slice(0, 16)]);
    now = real;
    expect((await sessions.validate(token)).session).toBeNull();
  });

  it('a session carries its user: validate needs no user read and follows profile changes', async () => {
    const store = new EmbeddedStore({ dir: null });
    const sessions = createSessionManager(store);
    const user = { ...userRecord('u1'), nickname: '小明' };
    const { token } = await sessions.create(user, 'mini');
    // No users record at all: the copy is what validate hands out.
    expect((await sessions.validate(token)).user).toEqual(user);
    await setUserCopies(store, { ...user, nickname: '小红' });
    expect((await sessions.validate(token)).user?.nickname).toBe('小红');
  });

  it('list, revoke one and revoke all belong to the manager', async () => {
    const store = new EmbeddedStore({ dir: null });
    let now = Date.now();
    const sessions = createSessionManager(store, () => new Date(now));
    const user = userRecord('u1');
    const a = await sessions.create(user, 'mini');
    now += 1000;
    const b = await sessions.create(user, 'web-qr');
    const other = await sessions.create(userRecord('u2'), 'oa');
    const listed = await sessions.list('u1', b.session.id);
    expect(listed.map((s) => [s.id, s.via, s.current])).toEqual([
      [b.session.id.slice(0, 16), 'web-qr', true],
      [a.session.id.slice(0, 16), 'mini', false],
    ]);
    expect(await sessions.revoke('u1', other.session.id.slice(0, 16))).toBe(false); // not theirs
    expect(await sessions.revoke('u1', 'not-hex-at-all!!')).toBe(false);
    expect(await sessions.revoke('u1', a.session.id.slice(0, 16))).toBe(true);
    expect((await sessions.validate(a.token)).session).toBeNull();
    expect((await sessions.validate(b.token)).session).not.toBeNull();
    await sessions.revokeAll('u1');
    expect(await sessions.list('u1')).toEqual([]);
    expect((await sessions.validate(other.token)).session).not.toBeNull();
  });

  it('die with their user (sessions without a copy read the user record)', async () => {
    const store = new EmbeddedStore({ dir: null });
    const sessions = createSessionManager(store);
    const now = new Date();
    await store.sessions.insert({ id: KNOWN_TOKEN_SHA256, userId: 'ghost', via: 'mini', createdAt: now, expiresAt: new Date(now.getTime() + DAY) });
    expect((await sessions.validate(KNOWN_TOKEN)).session).toBeNull();
    expect((await store.stats()).sessions).toBe(0);
  });
});

// The lifetime is written as a literal here (30 days): a test that imported SESSION_LIFETIME_MS
// could not notice it change.
const LIFE = 30 * DAY;

describe('session boundaries', () => {
  it('live until the millisecond before expiresAt, refused from expiresAt on', async () => {
    const store = new EmbeddedStore({ dir: null });
    const t0 = Date.now();
    let now = t0;
    const sessions = createSessionManager(store, () => new Date(now));
    const user = userRecord('u1', new Date(t0));
    const early = await sessions.create(user, 'mini');
    const onTime = await sessions.create(user, 'mini');
    now = t0 + LIFE - 1;
    expect((await sessions.validate(early.token)).session?.id).toBe(early.session.id);
    now = t0 + LIFE;
    expect((await sessions.validate(onTime.token))).toEqual({ session: null, user: null });
    expect(await store.sessions.get(onTime.session.id)).toBeNull();
  });

  it('slide only once less than half of their life is left (exactly half: no write)', async () => {
    const store = new EmbeddedStore({ dir: null });
    const t0 = Date.now();
    let now = t0;
    const sessions = createSessionManager(store, () => new Date(now));
    const { token, session } = await sessions.create(userRecord('u1', new Date(t0)), 'mini');
    expect(session.expiresAt.getTime()).toBe(t0 + LIFE);
    now = t0 + LIFE / 2; // exactly half left
    expect((await sessions.validate(token)).session!.expiresAt.getTime()).toBe(t0 + LIFE);
    expect((await store.sessions.get(session.id))!.expiresAt.getTime()).toBe(t0 + LIFE);
    now = t0 + LIFE / 2 + 1; // a millisecond less than half left
    expect((await sessions.validate(token)).session!.expiresAt.getTime()).toBe(now + LIFE);
    expect((await store.sessions.get(session.id))!.expiresAt.getTime()).toBe(now + LIFE);
  });

  it('an expired session is not listed under 登录设备 and cannot be revoked', async () => {
    const store = new EmbeddedStore({ dir: null });
    const t0 = Date.now();
    let now = t0;
    const sessions = createSessionManager(store, () => new Date(now));
    const user = userRecord('u1', new Date(t0));
    const old = await sessions.create(user, 'mini');
    now = t0 + 20 * DAY;
    const recent = await sessions.create(user, 'web-qr');
    now = t0 + LIFE; // `old` has just expired; nothing has looked at it yet
    expect((await sessions.list('u1')).map((s) => s.id)).toEqual([recent.session.id.slice(0, 16)]);
    expect(await sessions.revoke('u1', old.session.id.slice(0, 16))).toBe(false);
  });

  it('names a session by exactly its 16-character id: a shorter or longer prefix ends nothing', async () => {
    const store = new EmbeddedStore({ dir: null });
    const sessions = createSessionManager(store);
    const { token, session } = await sessions.create(userRecord('u1'), 'mini');
    for (const shortId of ['', session.id.slice(0, 1), session.id.slice(0, 15), session.id.slice(0, 17), session.id]) {
      expect(await sessions.revoke('u1', shortId), `"${shortId}"`).toBe(false);
    }
    expect((await sessions.validate(token)).session?.id).toBe(session.id);
    expect(await sessions.revoke('u1', session.id.slice(0, 16))).toBe(true);
    expect((await sessions.validate(token)).session).toBeNull();
  });

  it('a malformed token is refused without a database read, and logging it out deletes nothing', async () => {
    const inner = new EmbeddedStore({ dir: null });
    const calls: string[] = [];
    const store = metered(inner, (call) => void calls.push(call));
    const sessions = createSessionManager(store);
    const { token, session } = await sessions.create(userRecord('u1'), 'mini');
    calls.length = 0;
    const malformed = ['', `x${token}`, `${token}x`, `2${token}`, `${token}a`, token.slice(1), token.toUpperCase(), `${token.slice(0, 31)}1`];
    for (const bad of malformed) {
      expect(await sessions.validate(bad), bad).toEqual({ session: null, user: null });
      await sessions.invalidate(bad);
    }
    expect(calls).toEqual([]);
    expect((await sessions.validate(token)).session?.id).toBe(session.id);
    // Logout of the real token ends exactly that session.
    await sessions.invalidate(token);
    expect(await inner.sessions.get(session.id)).toBeNull();
    expect((await sessions.validate(token)).session).toBeNull();
  });

  it('follows its account: the user record when the copy is missing or belongs to another account, the survivor after a merge', async () => {
    const store = new EmbeddedStore({ dir: null });
    const sessions = createSessionManager(store);
    const now = new Date();
    const alive = new Date(now.getTime() + DAY);
    await store.accounts.insertUserIfAbsent({ ...userRecord('u2', now), nickname: '新账号' });
    await store.accounts.insertUserIfAbsent({ ...userRecord('u3', now), nickname: '幸存者' });
    // No copy (written before copies existed): the record.
    await store.sessions.insert({ id: sha256Hex(KNOWN_TOKEN), userId: 'u2', via: 'mini', createdAt: now, expiresAt: alive });
    expect((await sessions.validate(KNOWN_TOKEN)).user?.nickname).toBe('新账号');
    // Moved by a merge from u1 to u2, its copy not rewritten yet: u2's record, not u1's copy.
    const moved = 'bbcdefghijklmnopqrstuvwxyz234567';
    await store.sessions.insert({ id: sha256Hex(moved), userId: 'u2', via: 'mini', createdAt: now, expiresAt: alive, user: { ...userRecord('u1', now), nickname: '旧账号' } });
    expect((await sessions.validate(moved)).user).toMatchObject({ id: 'u2', nickname: '新账号' });
    // The copy says its account was merged into u3: the survivor.
    const merged = 'cbcdefghijklmnopqrstuvwxyz234567';
    await store.sessions.insert({ id: sha256Hex(merged), userId: 'u4', via: 'mini', createdAt: now, expiresAt: alive, user: { ...userRecord('u4', now), nickname: '并入', mergedInto: 'u3' } });
    expect((await sessions.validate(merged)).user).toMatchObject({ id: 'u3', nickname: '幸存者' });
  });
});
