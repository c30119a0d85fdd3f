import { describe, expect, it } from 'vitest';
import { createSessionManager, SESSION_LIFETIME_MS } from '../api/_lib/sessions/sessions.js';
import { sha256Hex } from '../api/_lib/crypto/tokens.js';
import { EmbeddedStore } from '../api/_lib/store/embedded.js';

const DAY = 24 * 60 * 60 * 1000;

describe('sessions', () => {
  it('store only the SHA-256 of a 160-bit token', async () => {
    const store = new EmbeddedStore({ dir: null });
    await store.insertUserIfAbsent({ id: 'u1', nickname: null, avatarUrl: null, createdAt: new Date(), updatedAt: new Date() });
    const { token, session } = await createSessionManager(store).create('u1', 'mini');
    expect(token).toMatch(/^[a-z2-7]{32}$/);
    expect(session.id).toBe(sha256Hex(token));
    expect((await store.getUserSessions('u1')).map((s) => s.id)).toEqual([sha256Hex(token)]);
  });

  it('slide forward when used in the second half of their life, and end when not used', async () => {
    const store = new EmbeddedStore({ dir: null });
    let now = Date.now();
    const sessions = createSessionManager(store, () => new Date(now));
    await store.insertUserIfAbsent({ id: 'u1', nickname: null, avatarUrl: null, createdAt: new Date(now), updatedAt: new Date(now) });
    const { token, session } = await sessions.create('u1', 'mini');
    now += 10 * DAY;
    expect((await sessions.validate(token)).session!.expiresAt).toEqual(session.expiresAt); // first half: unchanged
    now += 10 * DAY;
    const slid = (await sessions.validate(token)).session!;
    expect(slid.expiresAt.getTime()).toBe(now + SESSION_LIFETIME_MS);
    now += SESSION_LIFETIME_MS + 1;
    expect((await sessions.validate(token)).session).toBeNull();
  });

  it('die with their user', async () => {
    const store = new EmbeddedStore({ dir: null });
    const sessions = createSessionManager(store);
    const { token } = await sessions.create('ghost', 'mini');
    expect((await sessions.validate(token)).session).toBeNull();
    expect((await store.stats()).sessions).toBe(0);
  });
});
