import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import { openidKey, resolveAccount, unionidKey } from '../packages/server/src/users/accounts.js';
import { postJson, simCode, startStack, type Stack } from './support/stack.js';

/**
 * Issue 10 finding 11: 注销 after a late-unionid merge deletes everything that was ever that
 * person's — the merged-away account (phone, nickname, uploaded avatar), identities, sessions.
 */
const OA_APPID = 'wx00000000000000aa';
let stack: Stack;
afterEach(() => stack?.close());

const login = async (user: string) => (await postJson(`${stack.apiUrl}/api/auth/mini/login`, { code: await simCode(stack, user) })).body;
const authed = (token: string, init: RequestInit = {}): RequestInit => ({ ...init, headers: { authorization: `Bearer ${token}`, ...(init.headers as Record<string, string>) } });

describe('deleting an account after a late-unionid merge', () => {
  it('removes the merged-away account with its phone, nickname, avatar blob, identities and sessions', async () => {
    stack = await startStack({ openPlatformId: null });
    const store = stack.services.store;
    // Account A: the mini-program, before it was bound to the open platform — with a full profile.
    const a = await login('lee');
    await fetch(`${stack.apiUrl}/api/auth/me`, authed(a.token, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ nickname: '小李' }) }));
    const phoneCode = (await postJson(`${stack.simUrl}/__sim/mini/phone-code`, { appid: stack.appid, user: 'lee', phone: '13800001111' })).body.code;
    expect((await postJson(`${stack.apiUrl}/api/auth/me/phone`, { code: phoneCode }, { authorization: `Bearer ${a.token}` })).status).toBe(200);
    const png = await sharp({ create: { width: 16, height: 16, channels: 3, background: '#36c' } }).png().toBuffer();
    const upload = await fetch(`${stack.apiUrl}/api/auth/me/avatar`, authed(a.token, { method: 'POST', headers: { 'content-type': 'image/png' }, body: png }));
    const { avatarUrl } = (await upload.json()) as { avatarUrl: string };
    const blobId = /\/api\/auth\/avatars\/([0-9a-f]{32})\.jpg$/.exec(avatarUrl)![1]!;

    // Account B: the same person through the official account, with its own WeChat avatar; then the
    // mini-program login brings the unionid and A is merged into B.
    stack.sim.apps.get(stack.appid)!.openPlatformId = 'open-platform-1';
    const unionid = stack.sim.unionid(stack.sim.apps.get(stack.appid)!, 'lee')!;
    const b = await resolveAccount(store, { appid: OA_APPID, openid: 'oa-openid-lee', unionid }, { nickname: null, avatarUrl: 'https://thirdwx.qlogo.cn/mmopen/b/132' }, new Date());
    const merged = await login('lee');
    expect(merged.user.id).toBe(b.user.id);
    expect((await store.accounts.getUser(a.user.id))!.mergedInto).toBe(b.user.id);
    expect((await store.accounts.getUser(a.user.id))!.phone?.purePhoneNumber).toBe('13800001111');

    const res = await fetch(`${stack.apiUrl}/api/auth/me`, authed(merged.token, { method: 'DELETE' }));
    expect(res.status).toBe(204);

    // Nothing of either account remains.
    expect(await store.accounts.getUser(a.user.id)).toBeNull();
    expect(await store.accounts.getUser(b.user.id)).toBeNull();
    expect(await store.blobs.get(blobId)).toBeNull();
    expect(await store.accounts.listIdentities(a.user.id)).toEqual([]);
    expect(await store.accounts.listIdentities(b.user.id)).toEqual([]);
    expect(await store.accounts.getIdentity(unionidKey(unionid))).toBeNull();
    expect(await store.accounts.getIdentity(openidKey(stack.appid, stack.sim.openid(stack.appid, 'lee')))).toBeNull();
    expect(await store.sessions.listByUser(a.user.id)).toEqual([]);
    expect(await store.sessions.listByUser(b.user.id)).toEqual([]);
    for (const token of [a.token, merged.token]) {
      expect((await fetch(`${stack.apiUrl}/api/auth/me`, authed(token))).status).toBe(401);
    }
    expect((await fetch(`${stack.apiUrl}${avatarUrl}`)).status).toBe(404);
    // The same person logging in again starts a brand-new account.
    const fresh = await login('lee');
    expect(fresh.isNewUser).toBe(true);
    expect([a.user.id, b.user.id]).not.toContain(fresh.user.id);
  });

  it('follows a chain of merges (C → A → B) and tolerates being run twice', async () => {
    stack = await startStack({ openPlatformId: null });
    const store = stack.services.store;
    const now = new Date();
    const { deleteAccount } = await import('../packages/server/src/users/delete.js');
    for (const [id, into] of [['b', null], ['a', 'b'], ['c', 'a']] as const) {
      await store.accounts.insertUserIfAbsent({ id, nickname: id, avatarUrl: null, createdAt: now, updatedAt: now });
      if (into) await store.accounts.updateUser(id, { mergedInto: into, phone: { phoneNumber: '138', purePhoneNumber: '138', countryCode: '86', verifiedAt: now } }, now);
      await store.accounts.insertIdentity({ key: openidKey('wx1', id), kind: 'oid', userId: id, appid: 'wx1', openid: id, unionid: null, sessionKey: null, createdAt: now, updatedAt: now });
    }
    await deleteAccount(store, 'b');
    await deleteAccount(store, 'b');
    for (const id of ['a', 'b', 'c']) {
      expect(await store.accounts.getUser(id)).toBeNull();
      expect(await store.accounts.getIdentity(openidKey('wx1', id))).toBeNull();
    }
  });
});
