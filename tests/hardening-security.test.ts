import { getRecord } from './support/records.js';
import { spawnSync } from 'node:child_process';
import { createCipheriv, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, checkConfig } from '../packages/server/src/config.js';
import { createSealer, parseSealKeys } from '../packages/server/src/crypto/seal.js';
import { DECRYPT_PER_MINUTE } from '../packages/server/src/flows/mini/decrypt.js';
import { silentLogger } from '../packages/server/src/log.js';
import { createServices, type Services } from '../packages/server/src/main.js';
import { loadConfig, optionsFromEnv } from '../packages/server/src/env.js';
import { EmbeddedStore } from '../packages/server/src/store/embedded.js';
import type { Storage } from '../packages/server/src/store/types.js';
import { createAccessTokens } from '../packages/server/src/wechat/access-token.js';
import { stableToken } from '../packages/server/src/wechat/auth/stable_token.js';
import { createTransport } from '../packages/server/src/wechat/transport.js';
import { postJson, simCode, startStack, type Stack } from './support/stack.js';

/**
 * Issue 10 — sessions, keys, ownership (findings 1, 3, 4, 5, 8, 9). Each block names its finding;
 * every test here failed on the code before the fix.
 */
const key32 = () => randomBytes(32).toString('base64');

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack.close());

async function loginAs(user: string, s: Stack = stack) {
  const res = await postJson(`${s.apiUrl}/api/auth/mini/login`, { code: await simCode(s, user) });
  expect(res.status).toBe(200);
  return res.body as { token: string; user: { id: string } };
}
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const png = (seed: number) => sharp({ create: { width: 32, height: 32, channels: 3, background: { r: seed % 256, g: 40, b: 90 } } }).png().toBuffer();
async function upload(token: string, bytes: Buffer, s: Stack = stack) {
  const form = new FormData();
  form.append('file', new Blob([new Uint8Array(bytes)], { type: 'image/png' }), 'avatar.png');
  const res = await fetch(`${s.apiUrl}/api/auth/me/avatar`, { method: 'POST', headers: bearer(token), body: form });
  return { status: res.status, body: (await res.json()) as any };
}
const patchMe = async (token: string, body: unknown) => {
  const res = await fetch(`${stack.apiUrl}/api/auth/me`, { method: 'PATCH', headers: { ...bearer(token), 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as any };
};
const blobCount = (store: Storage) => (store as EmbeddedStore).size().blobs;

describe('finding 1 — an uploaded avatar belongs to its uploader', () => {
  let victim: { token: string; user: { id: string } };
  let attacker: { token: string; user: { id: string } };
  let victimUrl: string;
  let blobId: string;
  beforeAll(async () => {
    victim = await loginAs('avatar-victim');
    attacker = await loginAs('avatar-attacker');
    const up = await upload(victim.token, await png(1));
    expect(up.status).toBe(200);
    victimUrl = up.body.avatarUrl;
    blobId = /([0-9a-f]{32})\.jpg$/.exec(victimUrl)![1]!;
  });

  it('refuses another user\'s image however its URL is spelled, and changes nothing', async () => {
    const api = new URL(stack.apiUrl);
    const spellings = [
      victimUrl, // relative
      `${stack.apiUrl}${victimUrl}`, // absolute on our origin
      `http://attacker@${api.host}${victimUrl}`, // userinfo
      `http://other.example${victimUrl}`, // another host
      `/api/auth/avatars/%${blobId.charCodeAt(0).toString(16)}${blobId.slice(1)}.jpg`, // percent-encoded
      `/api%2Favatars/${blobId}.jpg`,
      `/api/auth/avatars/../avatars/${blobId}.jpg`, // dot segments
      `/api/x/../avatars/${blobId}.jpg`,
      `\\api\\avatars\\${blobId}.jpg`, // backslashes
      `${stack.apiUrl}\\api\\avatars\\${blobId}.jpg`,
      `//${api.host}${victimUrl}`, // scheme-relative
      `${victimUrl}?v=1`,
      `/API/AVATARS/${blobId.toUpperCase()}.JPG`,
    ];
    const before = await stack.services.store.accounts.getUser(attacker.user.id);
    for (const avatarUrl of spellings) {
      const res = await patchMe(attacker.token, { avatarUrl });
      expect([avatarUrl, res.status, res.body.error?.code]).toEqual([avatarUrl, 400, 'avatar_not_allowed']);
    }
    expect(await stack.services.store.accounts.getUser(attacker.user.id)).toEqual(before);
  });

  it('refuses WeChat-looking URLs that are not plainly on a WeChat avatar host', async () => {
    for (const avatarUrl of [
      'https://evil.example@thirdwx.qlogo.cn/mmopen/a/132',
      'https://thirdwx.qlogo.cn:8443/mmopen/a/132',
      'https://thirdwx.qlogo.cn\\@evil.example/a',
      'https://thirdwx.qlogo.cn.evil.example/mmopen/a/132',
    ]) {
      expect((await patchMe(attacker.token, { avatarUrl })).body.error?.code).toBe('avatar_not_allowed');
    }
    expect((await patchMe(attacker.token, { avatarUrl: 'https://wx.qlogo.cn/mmopen/ok/132' })).status).toBe(200);
  });

  it('still accepts the user\'s own upload, relative or absolute, stored in one spelling', async () => {
    const mine = (await upload(attacker.token, await png(2))).body.avatarUrl as string;
    for (const avatarUrl of [mine, `${stack.apiUrl}${mine}`]) {
      const res = await patchMe(attacker.token, { avatarUrl });
      expect([avatarUrl, res.status, res.body.error]).toEqual([avatarUrl, 200, undefined]);
      expect(res.body.user.avatarUrl).toBe(mine);
    }
  });

  it('an account that already points at someone else\'s image (old data) never deletes it', async () => {
    // As left by the old code: the attacker's record names the victim's image.
    await stack.services.store.accounts.updateUser(attacker.user.id, { avatarUrl: victimUrl }, new Date());
    expect((await upload(attacker.token, await png(3))).status).toBe(200);
    expect((await fetch(`${stack.apiUrl}${victimUrl}`)).status).toBe(200);
    await stack.services.store.accounts.updateUser(attacker.user.id, { avatarUrl: victimUrl }, new Date());
    expect((await fetch(`${stack.apiUrl}/api/auth/me`, { method: 'DELETE', headers: bearer(attacker.token) })).status).toBe(204);
    expect((await fetch(`${stack.apiUrl}${victimUrl}`)).status).toBe(200);
    expect((await stack.services.store.blobs.get(blobId))?.ownerId).toBe(victim.user.id);
  });
});

describe('finding 8 — avatar uploads leave no orphaned images', () => {
  it('20 parallel uploads by one user leave exactly the one image the account points at', async () => {
    const own = await startStack();
    try {
      const { token, user } = await loginAs('burst', own);
      const images = await Promise.all(Array.from({ length: 20 }, (_, i) => png(i)));
      const results = await Promise.all(images.map((bytes) => upload(token, bytes, own)));
      expect(results.map((r) => r.status)).toEqual(Array(20).fill(200));
      const stored = (await own.services.store.accounts.getUser(user.id))!.avatarUrl!;
      expect(blobCount(own.services.store)).toBe(1);
      expect((await fetch(`${own.apiUrl}${stored}`)).status).toBe(200);
      // Switching to a WeChat avatar deletes the uploaded one too.
      const res = await fetch(`${own.apiUrl}/api/auth/me`, { method: 'PATCH', headers: { ...bearer(token), 'content-type': 'application/json' }, body: JSON.stringify({ avatarUrl: 'https://thirdwx.qlogo.cn/mmopen/x/132' }) });
      expect(res.status).toBe(200);
      expect(blobCount(own.services.store)).toBe(0);
    } finally {
      await own.close();
    }
  });
});

describe('finding 8 — small ones', () => {
  it('accepts the Bearer scheme in any letter case (RFC 9110 §11.1)', async () => {
    const { token, user } = await loginAs('casey');
    for (const scheme of ['bearer', 'BEARER', 'Bearer', 'bEaReR']) {
      const res = await fetch(`${stack.apiUrl}/api/auth/me`, { headers: { authorization: `${scheme} ${token}` } });
      expect([scheme, res.status]).toEqual([scheme, 200]);
      expect(((await res.json()) as any).user.id).toBe(user.id);
    }
    expect((await fetch(`${stack.apiUrl}/api/auth/me`, { headers: { authorization: `Basic ${token}` } })).status).toBe(401);
    expect((await fetch(`${stack.apiUrl}/api/auth/me`, { headers: { authorization: `bearer${token}` } })).status).toBe(401);
  });

  it('counts decrypt attempts per user: more sessions buy no more tries', async () => {
    const sessions = [];
    for (let i = 0; i <= DECRYPT_PER_MINUTE; i++) sessions.push((await loginAs('many-sessions')).token);
    const garbage = { encryptedData: randomBytes(32).toString('base64'), iv: randomBytes(16).toString('base64') };
    const statuses = [];
    for (const token of sessions) statuses.push((await postJson(`${stack.apiUrl}/api/auth/mini/decrypt`, garbage, bearer(token))).status);
    expect(statuses).toEqual([...Array(DECRYPT_PER_MINUTE).fill(400), 429]);
  });

  it('production with a browser door refuses to start without PUBLIC_BASE_URL, and doctor says so', () => {
    const env = productionEnv({ WECHAT_WEB_APPID: 'wx00000000000000aa', WECHAT_WEB_SECRET: 'b'.repeat(32) });
    const problems = checkConfig(loadConfig(env)).problems;
    expect(problems.join('\n')).toMatch(/PUBLIC_BASE_URL is not set/);
    expect(() => createServices(optionsFromEnv(env), { store: new EmbeddedStore({ dir: null }), logger: silentLogger })).toThrow(ConfigError);
    expect(checkConfig(loadConfig({ ...env, PUBLIC_BASE_URL: 'https://api.example.com' })).problems).toEqual([]);
  });
});

function productionEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    NODE_ENV: 'production',
    WECHAT_MINI_APPID: 'wx0123456789abcdef',
    WECHAT_MINI_SECRET: 'a'.repeat(32),
    MONGODB_URI: 'mongodb://127.0.0.1:1/',
    SESSION_KEY_ENCRYPTION_KEYS: `k1:${key32()}`,
    ...extra,
  };
}

describe('finding 9 — doctor parses what production parses', () => {
  it.each([
    ['hex (openssl rand -hex 32)', `k1:${randomBytes(32).toString('hex')}`, true],
    ['base64 (openssl rand -base64 32)', `k1:${key32()}`, true],
    ['two keys, base64url and hex', `k2:${randomBytes(32).toString('base64url')},k1:${randomBytes(32).toString('hex')}`, true],
    ['too short', `k1:${randomBytes(16).toString('base64')}`, false],
    ['hex of 31 bytes', `k1:${randomBytes(31).toString('hex')}`, false],
    ['not a key', 'k1:not-a-key', false],
    ['no key id', key32(), false],
    ['a key id twice', `k1:${key32()},k1:${key32()}`, false],
  ])('%s: the doctor and a production cold start agree', (_name, keys, ok) => {
    const env = productionEnv({ SESSION_KEY_ENCRYPTION_KEYS: keys });
    const problems = checkConfig(loadConfig(env)).problems;
    const start = () => createServices(optionsFromEnv(env), { store: new EmbeddedStore({ dir: null }), logger: silentLogger });
    if (ok) {
      expect(problems).toEqual([]);
      expect(start).not.toThrow();
      for (const [, key] of parseSealKeys(keys)) expect(key.length).toBe(32);
    } else {
      expect(problems.join('\n')).toMatch(/SESSION_KEY_ENCRYPTION_KEYS: /);
      expect(start).toThrow(ConfigError);
    }
  });

  it('`npm run doctor` itself: a hex key is ready for production; a short one and a browser door without PUBLIC_BASE_URL are named', () => {
    const doctor = (env: Record<string, string>) => {
      const { PATH, HOME } = process.env;
      const res = spawnSync(join('node_modules', '.bin', 'tsx'), ['scripts/doctor.ts'], { env: { PATH: PATH!, HOME: HOME!, ...env }, encoding: 'utf8', timeout: 60_000 });
      return { status: res.status, out: res.stdout };
    };
    const good = doctor(productionEnv({ SESSION_KEY_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('hex')}` }));
    expect(good.out).toContain('✓ ready for production');
    // (its exit status is the reachability probe's: this MONGODB_URI points nowhere on purpose)
    expect(good.out).not.toMatch(/✗ SESSION_KEY_ENCRYPTION_KEYS/);
    const bad = doctor(productionEnv({ SESSION_KEY_ENCRYPTION_KEYS: `k1:${randomBytes(31).toString('hex')}`, WECHAT_WEB_APPID: 'wx00000000000000aa', WECHAT_WEB_SECRET: 'b'.repeat(32) }));
    expect(bad.status).toBe(1);
    expect(bad.out).toMatch(/✗ SESSION_KEY_ENCRYPTION_KEYS: key "k1" must be 32 random bytes/);
    expect(bad.out).toMatch(/✗ PUBLIC_BASE_URL is not set/);
  });

  it('a hex key opens what it sealed and is the same key as its base64 spelling', () => {
    const raw = randomBytes(32);
    const hex = createSealer(parseSealKeys(`k1:${raw.toString('hex')}`));
    const b64 = createSealer(parseSealKeys(`k1:${raw.toString('base64')}`));
    expect(b64.open(hex.seal('secret', 'ctx'), 'ctx')).toBe('secret');
  });

  it('WECHAT_TOKEN_BASE (and any base) keeps its path prefix', async () => {
    const seen: string[] = [];
    const fakeFetch = (async (url: URL | string) => {
      seen.push(String(url));
      return new Response(JSON.stringify({ access_token: 'T', expires_in: 7200 }), { status: 200 });
    }) as typeof fetch;
    const transport = createTransport({ baseUrls: ['https://relay.example.com/wechat/'], timeoutMs: 1000, logger: silentLogger, fetch: fakeFetch });
    await stableToken(transport, { appid: 'wx0123456789abcdef', secret: 'a'.repeat(32) }, false);
    expect(new URL(seen[0]!).pathname).toBe('/wechat/cgi-bin/stable_token');
    const services = createServices(
      optionsFromEnv({ NODE_ENV: 'test', WECHAT_MINI_APPID: 'wx0123456789abcdef', WECHAT_MINI_SECRET: 'a'.repeat(32), WECHAT_TOKEN_BASE: 'https://relay.example.com/egress/wx' }),
      { store: new EmbeddedStore({ dir: null }), logger: silentLogger, fetch: fakeFetch },
    );
    await services.accessTokens.get();
    expect(new URL(seen[1]!).toString()).toBe('https://relay.example.com/egress/wx/cgi-bin/stable_token');
  });

  it('an access_token sealed with a retired key is fetched again (not a 500); an older held key is re-sealed', async () => {
    const store = new EmbeddedStore({ dir: null });
    const fetches: number[] = [];
    let n = 0;
    const tokens = (keys: string) =>
      createAccessTokens({
        appid: 'wx0000000000000099',
        store,
        sealer: createSealer(parseSealKeys(keys)),
        logger: silentLogger,
        fetchToken: async () => {
          fetches.push(++n);
          return { accessToken: `token-${n}`, expiresIn: 7200 };
        },
      });
    const k1 = `k1:${key32()}`;
    const k2 = `k2:${key32()}`;
    expect(await tokens(k1).get()).toBe('token-1');
    // k1 removed: the stored token cannot be opened → one new fetch, sealed with k2.
    expect(await tokens(k2).get()).toBe('token-2');
    expect((await getRecord(store, 'wechat_token:wx0000000000000099'))!.value.token).toMatchObject({ kid: 'k2' });
    // k3 added first, k2 still held: the token is kept (no fetch) and re-sealed with k3.
    expect(await tokens(`k3:${key32()},${k2}`).get()).toBe('token-2');
    expect(fetches).toEqual([1, 2]);
    expect((await getRecord(store, 'wechat_token:wx0000000000000099'))!.value.token).toMatchObject({ kid: 'k3' });
  });
});

describe('finding 5 — one stable_token call per instance at a time', () => {
  it('20 parallel phone binds on a cold access_token make exactly 1 stable_token call', async () => {
    const own = await startStack();
    try {
      const users = await Promise.all(Array.from({ length: 20 }, (_, i) => loginAs(`binder-${i}`, own)));
      const codes = await Promise.all(users.map((_, i) => postJson(`${own.simUrl}/__sim/mini/phone-code`, { appid: own.appid, user: `binder-${i}` })));
      expect(own.sim.tokens.stableFetches.get(own.appid)).toBeUndefined(); // cold
      const results = await Promise.all(users.map((u, i) => postJson(`${own.apiUrl}/api/auth/me/phone`, { code: codes[i]!.body.code }, bearer(u.token))));
      expect(results.map((r) => r.status)).toEqual(Array(20).fill(200));
      expect(own.sim.tokens.stableFetches.get(own.appid)).toEqual({ normal: 1, force: 0 });
    } finally {
      await own.close();
    }
  });
});

/** A second API instance on the same store and the same (simulated) WeChat, with its own keys. */
function secondInstance(a: Stack, keys: string): Services {
  const { config } = a.services;
  return createServices(
    optionsFromEnv({
      NODE_ENV: 'test',
      WECHAT_MINI_APPID: config.mini.appid,
      WECHAT_MINI_SECRET: config.mini.secret,
      WECHAT_API_BASE: a.simUrl,
      WECHAT_API_FAILOVER: '',
      WECHAT_WEB_APPID: config.web!.appid,
      WECHAT_WEB_SECRET: config.web!.secret,
      WECHAT_OPEN_BASE: a.simUrl,
      // Both instances serve one public origin (the registered callback domain), as behind a load balancer.
      PUBLIC_BASE_URL: a.apiUrl,
      SESSION_KEY_ENCRYPTION_KEYS: keys,
    }),
    { store: a.services.store, logger: silentLogger },
  );
}

describe('findings 3 and 4 — browser-login handoffs, seal keys and rotation', () => {
  const k1 = `k1:${key32()}`;
  const k2 = `k2:${key32()}`;
  let a: Stack; // the instance not yet given the new key
  let b: Services; // the instance already sealing with the new key
  beforeAll(async () => {
    a = await startStack({ oa: false, env: { SESSION_KEY_ENCRYPTION_KEYS: k1 } });
    b = secondInstance(a, `${k2},${k1}`);
  });
  afterAll(() => a.close());

  type Door = { fetch(path: string, init?: RequestInit): Promise<Response> };
  const doorA: Door = { fetch: (path, init) => fetch(`${a.apiUrl}${path}`, init) };
  const doorB: Door = { fetch: (path, init) => Promise.resolve(b.app.request(`http://b.internal${path}`, init)) };

  /** One website QR login: started and called back on `first`, collected on `second`. */
  async function webLogin(user: string, first: Door, second: Door) {
    const qr = await first.fetch('/api/auth/web/qr', { redirect: 'manual' });
    const location = new URL(qr.headers.get('location')!);
    const state = location.searchParams.get('state')!;
    const cookie = qr.headers.get('set-cookie')!.split(';')[0]!;
    const uuid = /data-uuid="([0-9a-f]+)"/.exec(await (await fetch(location)).text())![1]!;
    await postJson(`${a.simUrl}/__sim/web/scan`, { uuid, user });
    const redirect = new URL((await postJson(`${a.simUrl}/__sim/web/confirm`, { uuid })).body.redirectUrl as string);
    const cb = await first.fetch(`${redirect.pathname}${redirect.search}`, { redirect: 'manual', headers: { cookie } });
    expect(cb.headers.get('location')).toContain('web_login=');
    const take = () => second.fetch('/api/auth/web/session', { method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body: JSON.stringify({ state }) });
    return { state, take };
  }

  it('finding 3: a completed handoff holds no token, sealed or plain — before or after it is taken', async () => {
    const { sha256Hex } = await import('../packages/server/src/crypto/tokens.js');
    const login = await webLogin('handoff-check', doorA, doorA);
    const id = `web-login:${sha256Hex(login.state)}`;
    const waiting = JSON.stringify((await getRecord(a.services.store, id))!.value);
    expect(waiting).not.toMatch(/"kid"|"data"|handoff|token/i);
    const res = await login.take();
    expect(res.status).toBe(200);
    const { token } = (await res.json()) as { token: string };
    const after = JSON.stringify(await getRecord(a.services.store, id));
    expect(after).not.toContain(token);
    expect(after).not.toMatch(/"kid"|"data"/);
    expect((await doorA.fetch('/api/auth/me', { headers: bearer(token) })).status).toBe(200);
  });

  it('finding 4: two instances whose key sets overlap (rotation under way) lose 0 of 20 logins', async () => {
    const pairs: Array<[Door, Door]> = [[doorA, doorB], [doorB, doorA], [doorB, doorB], [doorA, doorA]];
    const outcomes: number[] = [];
    for (let i = 0; i < 20; i++) {
      const [first, second] = pairs[i % pairs.length]!;
      const login = await webLogin(`rotating-${i}`, first, second);
      const res = await login.take();
      outcomes.push(res.status);
      if (res.status !== 200) continue;
      const { token } = (await res.json()) as { token: string };
      for (const door of [doorA, doorB]) expect((await door.fetch('/api/auth/me', { headers: bearer(token) })).status).toBe(200);
    }
    expect(outcomes).toEqual(Array(20).fill(200));
  });

  it('finding 4: a session_key sealed with a key this instance lacks is 503 seal_key_unknown and spends nothing', async () => {
    // The mini login goes through B, which seals the session_key with k2.
    const login = await b.app.request('http://b.internal/api/auth/mini/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code: await simCode(a, 'sealed-k2') }) });
    const { token } = (await login.json()) as { token: string };
    const garbage = { encryptedData: randomBytes(32).toString('base64'), iv: randomBytes(16).toString('base64') };
    for (let i = 0; i < DECRYPT_PER_MINUTE + 2; i++) {
      const res = await postJson(`${a.apiUrl}/api/auth/mini/decrypt`, garbage, bearer(token));
      expect(res.status).toBe(503);
      expect(res.body.error.code).toBe('seal_key_unknown');
      expect(res.body.error.message).toMatch(/[\u4e00-\u9fa5]/);
    }
    // Nothing was spent: B (which holds k2) still has every attempt of the minute.
    const onB = await b.app.request('http://b.internal/api/auth/mini/decrypt', { method: 'POST', headers: { ...bearer(token), 'content-type': 'application/json' }, body: JSON.stringify(garbage) });
    expect(onB.status).toBe(400);
    expect(((await onB.json()) as any).error.code).toBe('decrypt_failed');
  });

  it('finding 4/9: the phone bind keeps working while the access_token is sealed with a key one instance lacks', async () => {
    const code = async (user: string) => (await postJson(`${a.simUrl}/__sim/mini/phone-code`, { appid: a.appid, user })).body.code as string;
    const tokenOnB = ((await (await b.app.request('http://b.internal/api/auth/mini/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code: await simCode(a, 'phone-k2') }) })).json()) as any).token;
    const viaB = await b.app.request('http://b.internal/api/auth/me/phone', { method: 'POST', headers: { ...bearer(tokenOnB), 'content-type': 'application/json' }, body: JSON.stringify({ code: await code('phone-k2') }) });
    expect(viaB.status).toBe(200);
    expect((await getRecord(a.services.store, `wechat_token:${a.appid}`))!.value.token).toMatchObject({ kid: 'k2' });
    const onA = await postJson(`${a.apiUrl}/api/auth/me/phone`, { code: await code('phone-k2') }, bearer(tokenOnB));
    expect(onA.status).toBe(200);
  });
});

describe('finding 4 — the rotation procedure of docs/DEPLOY.md, step by step', () => {
  it('add → deploy → switch → remove: every login, decrypt and phone bind works at every step', async () => {
    const sim = await startStack({ oa: false, env: { SESSION_KEY_ENCRYPTION_KEYS: `x:${key32()}` } });
    try {
      const k1 = `k1:${key32()}`;
      const k2 = `k2:${randomBytes(32).toString('hex')}`;
      const steps: Array<[string, string, string]> = [
        ['before', k1, k1],
        ['add (one instance deployed)', k1, `${k1},${k2}`],
        ['add (both deployed)', `${k1},${k2}`, `${k1},${k2}`],
        ['switch (one instance)', `${k1},${k2}`, `${k2},${k1}`],
        ['switch (both)', `${k2},${k1}`, `${k2},${k1}`],
        ['remove', k2, k2],
      ];
      const call = async (svc: Services, path: string, body: unknown, token?: string) => {
        const res = await svc.app.request(`http://api.internal${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? bearer(token) : {}) }, body: JSON.stringify(body) });
        return { status: res.status, body: (await res.json()) as any };
      };
      const encrypt = (sessionKey: string) => {
        const iv = randomBytes(16);
        const cipher = createCipheriv('aes-128-cbc', Buffer.from(sessionKey, 'base64'), iv);
        const payload = JSON.stringify({ step: 1, watermark: { appid: sim.appid, timestamp: 1 } });
        return { encryptedData: Buffer.concat([cipher.update(payload), cipher.final()]).toString('base64'), iv: iv.toString('base64') };
      };
      const seen: string[] = [];
      for (const [name, keysA, keysB] of steps) {
        const [a, b] = [secondInstance(sim, keysA), secondInstance(sim, keysB)];
        for (const [first, second] of [[a, b], [b, a]] as const) {
          const user = `rot-${seen.length}`;
          const login = await call(first, '/api/auth/mini/login', { code: await simCode(sim, user) });
          const decrypted = await call(second, '/api/auth/mini/decrypt', encrypt(sim.sim.currentSessionKey(sim.appid, user)!), login.body.token);
          const phoneCode = (await postJson(`${sim.simUrl}/__sim/mini/phone-code`, { appid: sim.appid, user })).body.code;
          const phone = await call(second, '/api/auth/me/phone', { code: phoneCode }, login.body.token);
          seen.push(`${name}: login ${login.status}, decrypt ${decrypted.status}, phone ${phone.status}`);
        }
      }
      // In the "add (one instance deployed)" and "switch (one instance)" steps every instance holds
      // the sealing key of the other, so nothing answers 503: that is what the order of steps buys.
      expect(seen).toEqual(steps.flatMap(([name]) => [0, 1].map(() => `${name}: login 200, decrypt 200, phone 200`)));
      // The access_token was fetched once and followed every key change by re-sealing, never re-fetched.
      expect(sim.sim.tokens.stableFetches.get(sim.appid)!.normal).toBe(1);
    } finally {
      await sim.close();
    }
  });
});

describe('finding 4 — the dev seal key is kept in the data directory', () => {
  it('two dev instances on one MongoDB (same data directory) open each other\'s sealed values', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'seal-key-'));
    try {
      const env = { NODE_ENV: 'development', DATA_DIR: dir, MONGODB_URI: 'mongodb://127.0.0.1:1/', WECHAT_MINI_APPID: 'wxd0c0ffee00000001' };
      const one = createServices(optionsFromEnv(env), { logger: silentLogger });
      const two = createServices(optionsFromEnv(env), { logger: silentLogger });
      expect(two.sealer.open(one.sealer.seal('session-key', 'ctx'), 'ctx')).toBe('session-key');
      await Promise.all([one.store.close(), two.store.close()]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
