import { compareAndSetRecord, getRecord, storeStats } from './support/records.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EmbeddedStore } from '../packages/server/src/store/embedded.js';
import { claimOnce } from '../packages/server/src/store/records.js';
import { runStoreContract } from './store.contract.js';

const dirs: string[] = [];
function freshDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'store-embedded-'));
  dirs.push(dir);
  return dir;
}

afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

runStoreContract('embedded (on disk)', async () => new EmbeddedStore({ dir: freshDir() }));
runStoreContract('embedded (in memory)', async () => new EmbeddedStore({ dir: null }));

describe('EmbeddedStore persistence', () => {
  it('keeps data across closing and reopening the same dir', async () => {
    const dir = freshDir();
    const created = new Date('2026-05-06T07:08:09.123Z');
    const first = new EmbeddedStore({ dir });
    await first.accounts.insertUserIfAbsent({ id: 'u1', nickname: 'A', avatarUrl: null, createdAt: created, updatedAt: created });
    await first.accounts.insertIdentity({
      key: 'oid:wx1:o1', kind: 'oid', userId: 'u1', appid: 'wx1', openid: 'o1', unionid: null,
      sessionKey: { kid: 'k1', data: 'sealed' }, createdAt: created, updatedAt: created,
    });
    const expiresAt = new Date(Date.now() + 3_600_000);
    const copy = { id: 'u1', nickname: 'A', avatarUrl: null, createdAt: created, updatedAt: created };
    await first.sessions.insert({ id: 's1', userId: 'u1', via: 'mini', createdAt: created, expiresAt, user: copy });
    await claimOnce({ store: first }, 'code-1', new Date(Date.now() + 300_000));
    expect(await compareAndSetRecord(first, 'r1', { token: 't' }, null)).toBe(true);
    await first.close();

    const second = new EmbeddedStore({ dir });
    const session = await second.sessions.get('s1');
    expect(await second.accounts.getUser('u1')).toEqual({ id: 'u1', nickname: 'A', avatarUrl: null, createdAt: created, updatedAt: created });
    expect(session?.user).toEqual(copy);
    expect(session?.user?.createdAt).toBeInstanceOf(Date);
    expect(session?.expiresAt).toBeInstanceOf(Date);
    expect(session?.expiresAt.getTime()).toBe(expiresAt.getTime());
    expect((await second.accounts.getIdentity('oid:wx1:o1'))?.sessionKey).toEqual({ kid: 'k1', data: 'sealed' });
    await expect(claimOnce({ store: second }, 'code-1', new Date(Date.now() + 300_000))).rejects.toThrow('duplicate key');
    expect(await getRecord(second, 'r1')).toEqual({ value: { token: 't' }, version: 1 });
    expect(await storeStats(second)).toEqual({ users: 1, identities: 1, sessions: 1, records: 2 });
    await second.close();
  });
});

describe('EmbeddedStore upgrade', () => {
  it('loads an old store.json (no journal) and expires login records written without expiresAt', async () => {
    const dir = freshDir();
    const created = '2026-01-02T03:04:05.000Z';
    writeFileSync(join(dir, 'store.json'), JSON.stringify({
      claims: {},
      identities: {},
      users: { u1: { id: 'u1', nickname: 'A', avatarUrl: null, phone: { phoneNumber: '138', purePhoneNumber: '138', countryCode: '86', verifiedAt: created }, createdAt: created, updatedAt: created } },
      sessions: {},
      records: { 'web-login:abc': { value: { next: '/', expiresAt: created }, version: 1 }, 'access_token:wx1': { value: { token: null }, version: 3 } },
    }));
    const store = new EmbeddedStore({ dir });
    expect((await store.accounts.getUser('u1'))?.phone?.verifiedAt).toEqual(new Date(created));
    expect(await getRecord(store, 'web-login:abc')).toBeNull();
    expect(await getRecord(store, 'access_token:wx1')).toEqual({ value: { token: null }, version: 3 });
    expect(await store.sweepExpired(new Date(Date.now() + 1))).toBe(1);
    expect(store.size().records).toBe(1);
    await store.close();
  });
});
