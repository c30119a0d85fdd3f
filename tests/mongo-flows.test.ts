import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Storage } from '../packages/server/src/store/types.js';
import { resolveAccount, unionidKey } from '../packages/server/src/users/accounts.js';
import { accessTokenSuite } from './support/access-token-suite.js';
import { postJson, simCode, startStack, type Stack } from './support/stack.js';
import { testMongo } from './support/mongo.js';

/** The login flows end to end on MongoDB (FerretDB on PostgreSQL in CI: writes really run concurrently). */
const mongo = testMongo('flows');
const uri = mongo.uri;
const mongoStore = mongo.store;

describe.skipIf(!uri)('login flows on MongoDB', () => {
  let stack: Stack;
  let store: Storage;
  beforeAll(async () => {
    store = await mongoStore();
    stack = await startStack({ overrides: { store } });
  });
  afterAll(() => stack?.close());

  it('logs in, reads /api/auth/me, logs out', async () => {
    const res = await postJson(`${stack.apiUrl}/api/auth/mini/login`, { code: await simCode(stack, 'm-alice') });
    expect(res.status).toBe(200);
    const auth = { authorization: `Bearer ${res.body.token}` };
    expect((await (await fetch(`${stack.apiUrl}/api/auth/me`, { headers: auth })).json()).user.id).toBe(res.body.user.id);
    expect((await fetch(`${stack.apiUrl}/api/auth/logout`, { method: 'POST', headers: auth })).status).toBe(204);
    expect((await fetch(`${stack.apiUrl}/api/auth/me`, { headers: auth })).status).toBe(401);
  });

  it('website QR login: state, handoff and replay protection on MongoDB; one user with the mini-program', async () => {
    const mini = await postJson(`${stack.apiUrl}/api/auth/mini/login`, { code: await simCode(stack, 'm-web') });
    const qr = await fetch(`${stack.apiUrl}/api/auth/web/qr`, { redirect: 'manual' });
    const location = new URL(qr.headers.get('location')!);
    const state = location.searchParams.get('state')!;
    const cookie = qr.headers.get('set-cookie')!.split(';')[0]!;
    const uuid = /data-uuid="([0-9a-f]+)"/.exec(await (await fetch(location)).text())![1]!;
    await postJson(`${stack.simUrl}/__sim/web/scan`, { uuid, user: 'm-web' });
    const redirectUrl = (await postJson(`${stack.simUrl}/__sim/web/confirm`, { uuid })).body.redirectUrl as string;
    const cb = await fetch(redirectUrl, { redirect: 'manual', headers: { cookie } });
    expect(cb.headers.get('location')).toBe(`/uni_modules/wlu-wxlogin/pages/login/index?web_login=${state}#`);
    const replay = await fetch(redirectUrl, { redirect: 'manual', headers: { cookie } });
    expect(replay.headers.get('location')).toContain('web_login_error=web_login_state_used');
    const taken = await Promise.all([1, 2, 3].map(() => postJson(`${stack.apiUrl}/api/auth/web/session`, { state }, { cookie })));
    expect(taken.map((r) => r.status).sort()).toEqual([200, 409, 409]);
    const winner = taken.find((r) => r.status === 200)!;
    expect(winner.body.user.id).toBe(mini.body.user.id);
    expect((await fetch(`${stack.apiUrl}/api/auth/me`, { headers: { authorization: `Bearer ${winner.body.token}` } })).status).toBe(200);
  });

  it('a repeated code is refused locally', async () => {
    const code = await simCode(stack, 'm-bob');
    const results = await Promise.all([1, 2, 3].map(() => postJson(`${stack.apiUrl}/api/auth/mini/login`, { code })));
    expect(results.map((r) => r.status).sort()).toEqual([200, 409, 409]);
  });

  it('50 parallel first logins of one person create exactly one user (counted in the database)', async () => {
    const codes = await Promise.all(Array.from({ length: 50 }, () => simCode(stack, 'm-crowd')));
    const results = await Promise.all(codes.map((code) => postJson(`${stack.apiUrl}/api/auth/mini/login`, { code })));
    expect(results.map((r) => r.status)).toEqual(Array(50).fill(200));
    const ids = new Set(results.map((r) => r.body.user.id));
    expect(ids.size).toBe(1);
    const db = mongo.db();
    // Born as the copy on its identities (no user record until the first change), one account.
    expect(await db.collection('users').countDocuments({ _id: [...ids][0] as never })).toBe(0);
    expect(await db.collection('identities').distinct('user.id', { userId: [...ids][0] })).toEqual([...ids]);
    const openid = stack.sim.openid(stack.appid, 'm-crowd');
    expect(await db.collection('identities').countDocuments({ openid })).toBe(1);
    const userIds = await db.collection('identities').distinct('userId', { openid });
    expect(userIds).toEqual([...ids]);
    // 50 devices changing the profile at once write one user record (FerretDB: really concurrent).
    const patched = await Promise.all(
      results.map((r, i) => fetch(`${stack.apiUrl}/api/auth/me`, { method: 'PATCH', headers: { 'content-type': 'application/json', authorization: `Bearer ${r.body.token}` }, body: JSON.stringify({ nickname: `设备${i}` }) })),
    );
    expect(patched.map((r) => r.status)).toEqual(Array(50).fill(200));
    expect(await db.collection('users').countDocuments({ _id: [...ids][0] as never })).toBe(1);
  });

  it('50 parallel first logins without a unionid (upserts) create exactly one account', async () => {
    const unbound = await startStack({ openPlatformId: null, overrides: { store: await mongoStore() } });
    try {
      const codes = await Promise.all(Array.from({ length: 50 }, () => simCode(unbound, 'm-crowd-nu')));
      const results = await Promise.all(codes.map((code) => postJson(`${unbound.apiUrl}/api/auth/mini/login`, { code })));
      expect(results.map((r) => r.status)).toEqual(Array(50).fill(200));
      const ids = new Set(results.map((r) => r.body.user.id));
      expect(ids.size).toBe(1);
      expect(results.filter((r) => r.body.isNewUser)).toHaveLength(1);
      const openid = unbound.sim.openid(unbound.appid, 'm-crowd-nu');
      const db = mongo.db();
      expect(await db.collection('identities').countDocuments({ openid })).toBe(1);
      expect(await db.collection('identities').distinct('userId', { openid })).toEqual([...ids]);
    } finally {
      await unbound.close();
    }
  });

  it('two doors racing on one unionid end as one account', async () => {
    const unionid = stack.sim.unionid(stack.sim.apps.get(stack.appid)!, 'm-racer')!;
    const code = await simCode(stack, 'm-racer');
    await Promise.all([
      postJson(`${stack.apiUrl}/api/auth/mini/login`, { code }),
      resolveAccount(store, { appid: 'wx00000000000000aa', openid: 'oa-m-racer', unionid }, { nickname: null, avatarUrl: null }, new Date()),
    ]);
    const holder = (await store.accounts.getIdentity(unionidKey(unionid)))!.userId;
    const keys = (await store.accounts.listIdentities(holder)).map((i) => i.key);
    expect(keys).toHaveLength(3);
  });
});

describe.skipIf(!uri)('MongoDB', () => {
  accessTokenSuite('mongodb', mongoStore);
});
