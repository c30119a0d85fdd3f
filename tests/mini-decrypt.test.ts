import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createSealer } from '../packages/server/src/crypto/seal.js';
import { decryptForSession, type DecryptInput } from '../packages/server/src/flows/mini/decrypt.js';
import { EmbeddedStore } from '../packages/server/src/store/embedded.js';
import type { IdentityRecord, SessionRecord, Storage } from '../packages/server/src/store/types.js';
import { createSessionManager } from '../packages/server/src/sessions/sessions.js';
import { codeOf } from './support/app-error.js';
import { withPort } from './support/records.js';

// POST /api/auth/mini/decrypt, the flow without HTTP (docs/WECHAT.md "Mini-program open data",
// wechat-api-facts.md §3). encryptedData is made here the way WeChat makes it (AES-128-CBC under the
// base64 session_key), and rawData is signed here as sha1(rawData + session_key).
const MINI = 'wx00000000000000d1';
const OTHER_MINI = 'wx00000000000000a0'; // a second mini-program on the same open platform account
const sealer = createSealer(new Map([['k', Buffer.alloc(32, 5)]]));

function encrypt(sessionKey: string, payload: object, appid = MINI): { encryptedData: string; iv: string } {
  const iv = randomBytes(16);
  const cipher = createCipheriv('aes-128-cbc', Buffer.from(sessionKey, 'base64'), iv);
  const body = Buffer.concat([cipher.update(JSON.stringify({ ...payload, watermark: { appid, timestamp: 1 } })), cipher.final()]);
  return { encryptedData: body.toString('base64'), iv: iv.toString('base64') };
}
const sign = (rawData: string, sessionKey: string) => createHash('sha1').update(rawData + sessionKey).digest('hex');

function identity(appid: string, openid: string, sessionKey: string | null): IdentityRecord {
  const key = `oid:${appid}:${openid}`;
  const now = new Date();
  return { key, kind: 'oid', userId: 'u1', appid, openid, unionid: 'union-1', sessionKey: sessionKey ? sealer.seal(sessionKey, key) : null, createdAt: now, updatedAt: now };
}

const session: SessionRecord = { id: 'a'.repeat(64), userId: 'u1', via: 'mini', createdAt: new Date(), expiresAt: new Date(Date.now() + 86_400_000) };

async function world(identities: IdentityRecord[], options: { clock?: () => number; store?: (inner: Storage) => Storage } = {}) {
  const inner = new EmbeddedStore({ dir: null });
  for (const i of identities) await inner.accounts.insertIdentity(i);
  const store = options.store ? options.store(inner) : inner;
  const decrypt = (input: DecryptInput) => decryptForSession({ appid: MINI, store, sealer, sessions: createSessionManager(store), clock: options.clock }, session, input);
  return { decrypt, inner };
}

const KEY = randomBytes(16).toString('base64');
const OTHER_KEY = randomBytes(16).toString('base64');

describe('decrypt uses the session_key of this mini-program\'s identity', () => {
  it('even when the account also has a unionid, a web identity and another mini-program\'s identity listed first', async () => {
    const ids = [
      { ...identity('', '', null), key: 'uid:union-1', kind: 'uid' as const, appid: null, openid: null },
      identity('wx00000000000000e0', 'o-web', null),
      identity(OTHER_MINI, 'o-other', OTHER_KEY),
      identity(MINI, 'o-mini', KEY),
    ];
    const { decrypt } = await world(ids, {
      // the store lists them in this order (an order the code must not rely on)
      store: (inner) => withPort(inner, 'accounts', { listIdentities: async () => ids }),
    });
    expect(await decrypt(encrypt(KEY, { openGId: 'group-1' }))).toEqual({ openGId: 'group-1' });
  });

  it('an account without a mini-program identity gets decrypt_failed, not a crash', async () => {
    const { decrypt } = await world([identity('wx00000000000000e0', 'o-web', null)]);
    expect(await codeOf(decrypt(encrypt(KEY, { x: 1 })))).toBe('decrypt_failed');
  });
});

describe('decrypt checks rawData against its signature whenever either is sent', () => {
  const rawData = '{"nickName":"小明","gender":0}';

  it('accepts rawData with its right signature', async () => {
    const { decrypt } = await world([identity(MINI, 'o-mini', KEY)]);
    expect(await decrypt({ ...encrypt(KEY, { x: 1 }), rawData, signature: sign(rawData, KEY) })).toEqual({ x: 1 });
  });

  it('refuses rawData without a signature, and a signature without rawData', async () => {
    const { decrypt } = await world([identity(MINI, 'o-mini', KEY)]);
    expect(await codeOf(decrypt({ ...encrypt(KEY, { x: 1 }), rawData }))).toBe('decrypt_failed');
    expect(await codeOf(decrypt({ ...encrypt(KEY, { x: 1 }), signature: sign(rawData, KEY) }))).toBe('decrypt_failed');
  });
});

describe('decrypt attempts: 10 per user per minute', () => {
  it('the 11th attempt in a minute is refused; the next minute starts afresh (at 60 s, not 59.999 s)', async () => {
    let now = 1_800_000_000_000; // a whole minute
    const { decrypt } = await world([identity(MINI, 'o-mini', KEY)], { clock: () => now });
    const body = encrypt(KEY, { x: 1 });
    for (let i = 0; i < 10; i++) expect(await decrypt(body)).toEqual({ x: 1 });
    now += 59_999;
    expect(await codeOf(decrypt(body))).toBe('too_many_requests');
    now += 1;
    expect(await decrypt(body)).toEqual({ x: 1 });
  });

  it('gives up after 5 lost races on the counter with too_many_requests, never spinning', async () => {
    let writes = 0;
    const { decrypt } = await world([identity(MINI, 'o-mini', KEY)], {
      store: (inner) =>
        withPort(inner, 'records', {
          put: async () => {
            if (++writes > 50) throw new Error('runaway');
            return null; // another request always counted first
          },
        }),
    });
    expect(await codeOf(decrypt(encrypt(KEY, { x: 1 })))).toBe('too_many_requests');
    expect(writes).toBe(5);
  });
});

describe("decrypt uses the session_key of the person's NEWEST mini-program session (docs/ACCOUNTS.md \"Where session_key lives\")", () => {
  // Every wx.login may issue a new session_key and retire the old one (wechat-api-facts.md §1): the
  // key that opens data fetched now is the one from the latest login, whichever session asks.
  const KEY_A = randomBytes(16).toString('base64');
  const KEY_B = randomBytes(16).toString('base64');
  const t = (n: number) => new Date(Date.UTC(2026, 10, 30, 8, 0, n));
  const idKey = `oid:${MINI}:o-mini`;
  const mk = (id: string, createdAt: Date, extra: Partial<SessionRecord> = {}): SessionRecord => ({
    id: id.padEnd(64, '0'),
    userId: 'u1',
    via: 'mini',
    createdAt,
    expiresAt: new Date(Date.now() + 86_400_000),
    ...extra,
  });
  const keyed = (key: string, identityKey = idKey) => ({ wxSessionKey: { identity: identityKey, sealed: sealer.seal(key, identityKey) } });

  async function worldOf(sessions: SessionRecord[], options: { shuffle?: boolean; legacy?: string } = {}) {
    const inner = new EmbeddedStore({ dir: null });
    for (const s of sessions) await inner.sessions.insert(s);
    if (options.legacy) await inner.accounts.insertIdentity(identity(MINI, 'o-mini', options.legacy));
    // a store that lists them newest-first and interleaved: an order the code must not rely on
    const store: Storage = options.shuffle
      ? withPort(inner, 'sessions', {
          listByUser: async (userId: string) => {
            const all = await inner.sessions.listByUser(userId);
            return [...all.filter((_, i) => i % 2), ...all.filter((_, i) => !(i % 2))].reverse();
          },
        })
      : inner;
    let minute = 0;
    return (asking: SessionRecord, input: DecryptInput) =>
      decryptForSession({ appid: MINI, store, sealer, sessions: createSessionManager(store), clock: () => ++minute * 60_000 }, asking, input);
  }

  it('skips sessions without one and other mini-programs\' ones, whatever order the store lists them in', async () => {
    const oldest = mk('a', t(1), keyed(KEY_A));
    const list = [
      oldest,
      mk('b', t(2), { via: 'web-qr' }),
      mk('c', t(3), keyed(KEY_B)),
      mk('d', t(4), keyed(OTHER_KEY, `oid:${OTHER_MINI}:o-other`)),
      mk('e', t(5), { via: 'oa' }),
    ];
    for (const shuffle of [false, true]) {
      const decrypt = await worldOf(list, { shuffle });
      expect(await decrypt(oldest, encrypt(KEY_B, { n: 1 }))).toEqual({ n: 1 });
      expect(await codeOf(decrypt(oldest, encrypt(KEY_A, { n: 2 })))).toBe('decrypt_failed');
    }
  });

  it('of two logins in the same millisecond, the one stored last wins', async () => {
    const decrypt = await worldOf([mk('a', t(1), keyed(KEY_A)), mk('b', t(1), keyed(KEY_B))]);
    expect(await decrypt(mk('a', t(1)), encrypt(KEY_B, { n: 3 }))).toEqual({ n: 3 });
  });

  it('an expired session\'s key is not used; a session-less account falls back to the key on its identity', async () => {
    const expired = mk('b', t(2), { ...keyed(KEY_B), expiresAt: new Date(Date.now() - 1000) });
    const decrypt = await worldOf([mk('a', t(1), keyed(KEY_A)), expired]);
    expect(await decrypt(mk('a', t(1)), encrypt(KEY_A, { n: 4 }))).toEqual({ n: 4 });
    const legacy = await worldOf([mk('c', t(3), { via: 'web-qr' })], { legacy: KEY_B });
    expect(await legacy(mk('c', t(3)), encrypt(KEY_B, { n: 5 }))).toEqual({ n: 5 });
  });
});
