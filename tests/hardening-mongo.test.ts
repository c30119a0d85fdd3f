import { randomBytes } from 'node:crypto';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../packages/server/src/crypto/tokens.js';
import { postJson, simCode, startStack, type Stack } from './support/stack.js';
import { testMongo } from './support/mongo.js';

/**
 * Issue 10 findings 3, 4 and 8 on MongoDB (FerretDB on PostgreSQL in CI): the record store keeps
 * one document per version, so "nothing token-like remains" must hold for every version, and the
 * avatar lock must serialise uploads across real concurrent writes.
 */
const mongo = testMongo('hardening');
const uri = mongo.uri;
const mongoStore = mongo.store;

describe.skipIf(!uri)('issue 10 on MongoDB', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ oa: false, overrides: { store: await mongoStore() } });
  });
  afterAll(() => stack.close());

  it('finding 3: after a website login is taken, no version of its record holds anything token-like', async () => {
    const qr = await fetch(`${stack.apiUrl}/api/auth/web/qr`, { redirect: 'manual' });
    const location = new URL(qr.headers.get('location')!);
    const state = location.searchParams.get('state')!;
    const cookie = qr.headers.get('set-cookie')!.split(';')[0]!;
    const uuid = /data-uuid="([0-9a-f]+)"/.exec(await (await fetch(location)).text())![1]!;
    await postJson(`${stack.simUrl}/__sim/web/scan`, { uuid, user: 'mongo-handoff' });
    const redirectUrl = (await postJson(`${stack.simUrl}/__sim/web/confirm`, { uuid })).body.redirectUrl as string;
    await fetch(redirectUrl, { redirect: 'manual', headers: { cookie } });
    const taken = await postJson(`${stack.apiUrl}/api/auth/web/session`, { state }, { cookie });
    expect(taken.status).toBe(200);
    const versions = await mongo.db().collection('records').find({ rid: `web-login:${sha256Hex(state)}` }).toArray();
    expect(versions.length).toBeGreaterThanOrEqual(2);
    const dump = JSON.stringify(versions);
    expect(dump).not.toContain(taken.body.token);
    expect(dump).not.toMatch(/"kid"|"handoff"/);
  });

  it('finding 8: 20 parallel avatar uploads leave exactly one image in the database', async () => {
    const login = await postJson(`${stack.apiUrl}/api/auth/mini/login`, { code: await simCode(stack, 'mongo-burst') });
    const token = login.body.token as string;
    const uploads = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const bytes = await sharp({ create: { width: 16, height: 16, channels: 3, background: { r: i * 10, g: 0, b: 0 } } }).png().toBuffer();
        const form = new FormData();
        form.append('file', new Blob([new Uint8Array(bytes)], { type: 'image/png' }), 'a.png');
        return (await fetch(`${stack.apiUrl}/api/auth/me/avatar`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: form })).status;
      }),
    );
    expect(uploads).toEqual(Array(20).fill(200));
    const owned = await mongo.db().collection('blobs').find({ ownerId: login.body.user.id }).toArray();
    expect(owned).toHaveLength(1);
    const me = (await (await fetch(`${stack.apiUrl}/api/auth/me`, { headers: { authorization: `Bearer ${token}` } })).json()) as any;
    expect(me.user.avatarUrl).toBe(`/api/auth/avatars/${owned[0]!._id}.jpg`);
  });

  it('finding 4: two instances on one MongoDB with overlapping key sets lose 0 logins', async () => {
    const k1 = `k1:${randomBytes(32).toString('base64')}`;
    const k2 = `k2:${randomBytes(32).toString('hex')}`;
    const a = await startStack({ oa: false, env: { SESSION_KEY_ENCRYPTION_KEYS: k1 }, overrides: { store: await mongoStore() } });
    const { createServices } = await import('../packages/server/src/main.js');
    const { optionsFromEnv } = await import('../packages/server/src/env.js');
    const { silentLogger } = await import('../packages/server/src/log.js');
    const c = a.services.config;
    const b = createServices(
      optionsFromEnv({
        NODE_ENV: 'test', WECHAT_MINI_APPID: c.mini.appid, WECHAT_MINI_SECRET: c.mini.secret, WECHAT_API_BASE: a.simUrl, WECHAT_API_FAILOVER: '',
        WECHAT_WEB_APPID: c.web!.appid, WECHAT_WEB_SECRET: c.web!.secret, WECHAT_OPEN_BASE: a.simUrl, PUBLIC_BASE_URL: a.apiUrl, SESSION_KEY_ENCRYPTION_KEYS: `${k2},${k1}`,
      }),
      { store: await mongoStore(), logger: silentLogger },
    );
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) {
        const bFirst = i % 2 === 0;
        const start = (path: string, init?: RequestInit) => (bFirst ? Promise.resolve(b.app.request(`http://b.internal${path}`, init)) : fetch(`${a.apiUrl}${path}`, init));
        const finish = (path: string, init?: RequestInit) => (bFirst ? fetch(`${a.apiUrl}${path}`, init) : Promise.resolve(b.app.request(`http://b.internal${path}`, init)));
        const qr = await start('/api/auth/web/qr', { redirect: 'manual' });
        const location = new URL(qr.headers.get('location')!);
        const state = location.searchParams.get('state')!;
        const cookie = qr.headers.get('set-cookie')!.split(';')[0]!;
        const uuid = /data-uuid="([0-9a-f]+)"/.exec(await (await fetch(location)).text())![1]!;
        await postJson(`${a.simUrl}/__sim/web/scan`, { uuid, user: `mongo-rot-${i}` });
        const redirect = new URL((await postJson(`${a.simUrl}/__sim/web/confirm`, { uuid })).body.redirectUrl as string);
        await start(`${redirect.pathname}${redirect.search}`, { redirect: 'manual', headers: { cookie } });
        const res = await finish('/api/auth/web/session', { method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body: JSON.stringify({ state }) });
        statuses.push(res.status);
      }
      expect(statuses).toEqual(Array(6).fill(200));
    } finally {
      await a.close();
      await b.store.close();
    }
  });
});
