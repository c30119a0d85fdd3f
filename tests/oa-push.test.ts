import { storeStats } from './support/records.js';
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createLogger } from '../packages/server/src/log.js';
import { createMongoStore, migrateMongo } from '../packages/server/src/store/mongo.js';
import { followQrs, identifyFollower, REPLY } from '../packages/server/src/flows/follow/login.js';
import type { Storage } from '../packages/server/src/store/types.js';
import { createAttempt, readAttempt, type AttemptDeps } from '../packages/server/src/flows/attempt/attempt.js';
import { silentLogger } from '../packages/server/src/log.js';
import { simDecrypt, simEncrypt } from '../packages/sim/src/oa-server.js';
import { postJson, simCode, startStack, type Stack } from './support/stack.js';

/**
 * The official account's server URL and follow-to-login over real HTTP: API + simulator; the
 * simulated phone scans the attempt's parametric QR and WeChat (the simulator) pushes the event —
 * signed, encrypted in safe mode, 5 s timeout, retried (wechat-api-facts.md §7–§9).
 */
const TOKEN = 'followToken42';
const KEY = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG';
const OLD_KEY = 'ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut';
const sha1 = (...v: string[]) => createHash('sha1').update(v.sort().join('')).digest('hex');

async function oaStack(mode: 'plain' | 'compatible' | 'safe', extraEnv: Record<string, string> = {}, lines?: string[]) {
  const stack = await startStack({
    env: { WECHAT_OA_TOKEN: TOKEN, WECHAT_OA_MESSAGE_MODE: mode, PUBLIC_BASE_URL: 'https://login.example.com', ...(mode === 'plain' ? {} : { WECHAT_OA_ENCODING_AES_KEY: KEY }), ...extraEnv },
    overrides: lines ? { logger: createLogger((line) => lines.push(line), 'debug') } : {},
  });
  return stack;
}

/** 服务器配置 in the simulated console: it checks the URL with a signed GET before saving. */
async function configureServer(stack: Stack, mode: string, key: string | null = KEY, token = TOKEN, url = `${stack.apiUrl}/api/auth/oa/push`) {
  return postJson(`${stack.simUrl}/__sim/oa/server`, { appid: stack.oaAppid, url, token, encodingAesKey: mode === 'plain' ? null : key, mode });
}

/**
 * The PC's side: a login attempt with the follow form (POST /api/auth/pc/attempt {form: 'follow'}),
 * then the page showing its card asks for the official account's QR (POST /api/auth/pc/follow-qr).
 * `scene` names the attempt (la_<attempt id>, for attemptOf / confirmLink); `qrScene` is what the
 * QR carries (what WeChat pushes back as EventKey).
 */
async function newAttempt(stack: Stack) {
  const res = await postJson(`${stack.apiUrl}/api/auth/pc/attempt`, { form: 'follow' });
  expect(res.body).toMatchObject({ form: 'follow', status: 'waiting' });
  const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0]!;
  const id = /^(.*?)=([^.;]+)\.([^;]+)/.exec(cookie)?.[2] ?? '';
  const shown = await postJson(`${stack.apiUrl}/api/auth/pc/follow-qr`, {}, { cookie });
  expect(shown.body).toMatchObject({ form: 'follow' });
  const qrScene = stack.sim.oaServer.findQr(shown.body.scanUrl)!.scene;
  return { scene: `la_${id}`, qrScene, qr: { content: shown.body.scanUrl as string, imageUrl: shown.body.qrImageUrl as string } };
}

/** What the attempt module says about the attempt behind a scene (any instance on the store). */
const attemptOf = (store: Storage, scene: string) => readAttempt({ store, logger: silentLogger } as unknown as AttemptDeps, scene.slice(3));
const confirmLink = (scene: string) => `https://login.example.com/api/auth/pc/scan?a=${scene.slice(3)}`;

async function scan(stack: Stack, user: string, qr: string) {
  return postJson(`${stack.simUrl}/__sim/oa/scan`, { user, qr });
}

describe('server URL verification (GET, wechat-api-facts.md §8)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await oaStack('safe');
  });
  afterAll(() => stack.close());

  it('answers echostr to a signed GET and refuses a wrong Token, a forged or stale signature', async () => {
    expect((await configureServer(stack, 'safe')).body).toEqual({ ok: true });
    expect((await configureServer(stack, 'safe', KEY, 'wrongToken')).status).toBe(409);
    const ts = String(Math.floor(Date.now() / 1000));
    const ok = await fetch(`${stack.apiUrl}/api/auth/oa/push?signature=${sha1(TOKEN, ts, '42')}&timestamp=${ts}&nonce=42&echostr=987654321`);
    expect([ok.status, await ok.text()]).toEqual([200, '987654321']);
    const forged = await fetch(`${stack.apiUrl}/api/auth/oa/push?signature=${sha1('other', ts, '42')}&timestamp=${ts}&nonce=42&echostr=1`);
    expect(forged.status).toBe(401);
    expect(await forged.json()).toMatchObject({ error: { code: 'oa_push_signature_invalid' } });
    const old = String(Number(ts) - 3600);
    const stale = await fetch(`${stack.apiUrl}/api/auth/oa/push?signature=${sha1(TOKEN, old, '42')}&timestamp=${old}&nonce=42&echostr=1`);
    expect(await stale.json()).toMatchObject({ error: { code: 'oa_push_timestamp_stale' } });
  });
});

for (const mode of ['plain', 'compatible', 'safe'] as const) {
  describe(`follow-to-login in ${mode} mode`, () => {
    let stack: Stack;
    beforeAll(async () => {
      stack = await oaStack(mode);
      expect((await configureServer(stack, mode)).body).toEqual({ ok: true });
    });
    afterAll(() => stack.close());

    it('a new follower scans: subscribe + qrscene_, the reply links to the confirmation page, nobody is logged in', async () => {
      const { scene, qr } = await newAttempt(stack);
      const res = await scan(stack, 'carol', qr.content);
      expect(res.body).toMatchObject({ event: 'subscribe', newFollower: true, delivered: true });
      expect(res.body.attempts).toHaveLength(1);
      expect(res.body.links).toEqual([confirmLink(scene)]);
      expect(res.body.shown).toBe(REPLY.confirm(res.body.links[0]));
      expect(await attemptOf(stack.services.store, scene)).toMatchObject({ status: 'scanned', version: 2 });
      expect((await storeStats(stack.services.store)).sessions).toBe(0);
    });

    it('the simulated WeChat browser opens the reply link as that person (sim_user), and only links they were sent', async () => {
      const { scene, qr } = await newAttempt(stack);
      const res = await scan(stack, 'kate', qr.content);
      expect(res.body.open).toHaveLength(1);
      const opened = await fetch(res.body.open[0], { redirect: 'manual' });
      expect(opened.status).toBe(302);
      expect(opened.headers.get('location')).toBe(confirmLink(scene));
      expect(opened.headers.get('set-cookie')).toContain('sim_user=kate');
      const other = new URL(res.body.open[0]);
      other.searchParams.set('user', 'mallory');
      expect((await fetch(other, { redirect: 'manual' })).status).toBe(404);
    });

    it('an existing follower scans: SCAN with the bare scene', async () => {
      const { scene, qr } = await newAttempt(stack);
      const res = await scan(stack, 'carol', qr.content);
      expect(res.body).toMatchObject({ event: 'SCAN', newFollower: false, delivered: true, links: [confirmLink(scene)] });
      expect(await attemptOf(stack.services.store, scene)).toMatchObject({ status: 'scanned' });
    });
  });
}

describe('follow-to-login: safety', () => {
  let stack: Stack;
  const lines: string[] = [];
  beforeAll(async () => {
    stack = await oaStack('safe', {}, lines);
    await configureServer(stack, 'safe');
  });
  afterAll(() => stack.close());

  /** A safe-mode push as WeChat signs it (the simulator's own encryption). */
  function signedPush(inner: string, opts: { token?: string; ts?: number; key?: string } = {}) {
    const ts = String(opts.ts ?? Math.floor(Date.now() / 1000));
    const nonce = String(Math.floor(Math.random() * 1e9));
    const encrypt = simEncrypt(opts.key ?? KEY, stack.oaAppid!, inner);
    const url = `${stack.apiUrl}/api/auth/oa/push?signature=${sha1(opts.token ?? TOKEN, ts, nonce)}&timestamp=${ts}&nonce=${nonce}&openid=x&encrypt_type=aes&msg_signature=${sha1(opts.token ?? TOKEN, ts, nonce, encrypt)}`;
    return { url, body: `<xml><ToUserName><![CDATA[gh_x]]></ToUserName><Encrypt><![CDATA[${encrypt}]]></Encrypt></xml>` };
  }
  const scanXml = (openid: string, scene: string, createTime: number) =>
    `<xml><ToUserName><![CDATA[gh_x]]></ToUserName><FromUserName><![CDATA[${openid}]]></FromUserName><CreateTime>${createTime}</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[SCAN]]></Event><EventKey><![CDATA[${scene}]]></EventKey></xml>`;
  const post = async (p: { url: string; body: string }) => {
    const started = performance.now();
    const res = await fetch(p.url, { method: 'POST', body: p.body, headers: { 'content-type': 'text/xml' } });
    return { status: res.status, text: await res.text(), ms: performance.now() - started };
  };

  it('a relayed QR: the second person gets "taken", the attempt stays with the first, no session', async () => {
    const { scene, qr } = await newAttempt(stack);
    const alice = await scan(stack, 'alice', qr.content);
    const bob = await scan(stack, 'bob', qr.content);
    expect(bob.body).toMatchObject({ delivered: true, shown: REPLY.taken, links: [] });
    expect(await attemptOf(stack.services.store, scene)).toMatchObject({ status: 'scanned', version: 2 });
    // the attempt stays with the first person: alice scanning again still gets her link
    expect((await scan(stack, 'alice', qr.content)).body).toMatchObject({ links: [confirmLink(scene)] });
    expect((await storeStats(stack.services.store)).sessions).toBe(0);
  });

  it('forged signature, stale timestamp, wrong key, entity bomb: refused in < 50 ms and change nothing', async () => {
    const { scene, qrScene } = await newAttempt(stack);
    await post(signedPush(scanXml('oWarm', 'la_warmupwarmupwarmupwarmup', 1))); // warm the route
    const inner = scanXml('oMallory', qrScene, Math.floor(Date.now() / 1000));
    const bomb = `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]><xml><FromUserName>&d;&d;&d;&d;</FromUserName></xml>`;
    const cases = [
      { p: signedPush(inner, { token: 'forgedToken' }), code: 'oa_push_signature_invalid' },
      { p: signedPush(inner, { ts: Math.floor(Date.now() / 1000) - 3600 }), code: 'oa_push_timestamp_stale' },
      { p: signedPush(inner, { key: OLD_KEY }), code: 'oa_push_body_invalid' },
      { p: signedPush(bomb), code: 'oa_push_body_invalid' },
      { p: { ...signedPush(inner), body: bomb }, code: 'oa_push_body_invalid' },
    ];
    for (const { p, code } of cases) {
      lines.length = 0;
      const res = await post(p);
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(JSON.parse(res.text)).toMatchObject({ error: { code } });
      // the server's own time for the request (http.request log line), and the whole round trip
      const served = lines.map((l) => JSON.parse(l)).find((l) => l.event === 'http.request');
      expect(served).toMatchObject({ path: '/api/auth/oa/push', status: res.status });
      expect(served.ms).toBeLessThan(50);
      if (process.env.REPORT_TIMINGS) console.log(`refused ${code}: server ${served.ms} ms, round trip ${res.ms.toFixed(1)} ms`);
      expect(res.ms).toBeLessThan(250);
    }
    // plaintext in safe mode is refused too
    const ts = String(Math.floor(Date.now() / 1000));
    const plain = await post({ url: `${stack.apiUrl}/api/auth/oa/push?signature=${sha1(TOKEN, ts, '1')}&timestamp=${ts}&nonce=1`, body: inner });
    expect(JSON.parse(plain.text)).toMatchObject({ error: { code: 'oa_push_signature_invalid' } });
    expect(await attemptOf(stack.services.store, scene)).toMatchObject({ status: 'waiting', version: 1 });
  });

  it('an oversized or signature-less push is a clear refusal, never a crash', async () => {
    const big = signedPush(`<xml><FromUserName>${'x'.repeat(70_000)}</FromUserName></xml>`);
    const res = await post(big);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.text)).toMatchObject({ error: { code: 'oa_push_body_invalid' } });
    const bare = await post({ url: `${stack.apiUrl}/api/auth/oa/push`, body: '<xml/>' });
    expect(JSON.parse(bare.text)).toMatchObject({ error: { code: 'oa_push_signature_invalid' } });
  });

  it('a replayed (or retried) push is deduplicated: recorded once, answered the same', async () => {
    const { scene, qrScene } = await newAttempt(stack);
    const push = signedPush(scanXml('oReplay', qrScene, Math.floor(Date.now() / 1000)));
    lines.length = 0;
    const first = await post(push);
    const second = await post(push);
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    expect(first.text).toContain('<Encrypt>');
    expect(lines.filter((l) => l.includes('oa.follow.scanned'))).toHaveLength(1);
    expect(lines.filter((l) => l.includes('oa.push.duplicate'))).toHaveLength(1);
    expect(await attemptOf(stack.services.store, scene)).toMatchObject({ status: 'scanned', version: 2 });
  });

  it("a retried push of a second scanner gets exactly the first answer (taken), never the first scanner's link", async () => {
    const { scene, qrScene, qr } = await newAttempt(stack);
    expect((await scan(stack, 'alice', qr.content)).body.links).toEqual([confirmLink(scene)]);
    // bob scans the same QR: WeChat's first delivery and its retry carry the same message
    const push = signedPush(scanXml('oBobRetry', qrScene, Math.floor(Date.now() / 1000)));
    const content = (text: string) => {
      const inner = simDecrypt(KEY, stack.oaAppid!, /<Encrypt><!\[CDATA\[([^\]]+)\]\]><\/Encrypt>/.exec(text)![1]!)!;
      return /<Content><!\[CDATA\[([\s\S]*?)\]\]><\/Content>/.exec(inner)?.[1];
    };
    const first = await post(push);
    const retry = await post(push);
    expect(content(first.text)).toBe(REPLY.taken);
    expect(content(retry.text)).toBe(REPLY.taken);
    expect(retry.text).not.toContain(scene.slice(3));
    expect(await attemptOf(stack.services.store, scene)).toMatchObject({ status: 'scanned', version: 2 });
  });

  it('unrelated messages and events get success', async () => {
    const ts = Math.floor(Date.now() / 1000);
    const text = `<xml><ToUserName><![CDATA[gh_x]]></ToUserName><FromUserName><![CDATA[oText]]></FromUserName><CreateTime>${ts}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[你好]]></Content><MsgId>1234567890123456789</MsgId></xml>`;
    expect((await post(signedPush(text))).text).toBe('success');
    const click = text.replace('<MsgType><![CDATA[text]]></MsgType>', '<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[CLICK]]></Event>');
    expect((await post(signedPush(click))).text).toBe('success');
    // a scan of someone else's permanent QR (not a login attempt scene)
    expect((await post(signedPush(scanXml('oOther', 'shop_poster_1', ts + 1)))).text).toBe('success');
  });

  it('showqrcode serves a PNG for the attempt ticket and 404 for an invalid one', async () => {
    const { qr } = await newAttempt(stack);
    expect(qr.imageUrl.startsWith(`${stack.simUrl}/cgi-bin/showqrcode?ticket=`)).toBe(true);
    const png = await fetch(qr.imageUrl);
    expect(png.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await png.arrayBuffer()).subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect((await fetch(`${stack.simUrl}/cgi-bin/showqrcode?ticket=bm90LWEtdGlja2V0`)).status).toBe(404);
  });

  it('identifies the follower after the reply: user/info unionid → the mini-program account', async () => {
    const login = await postJson(`${stack.apiUrl}/api/auth/mini/login`, { code: await simCode(stack, 'dora') });
    expect(login.status).toBe(200);
    const { scene, qr } = await newAttempt(stack);
    await scan(stack, 'dora', qr.content);
    const { body } = await scan(stack, 'dora', qr.content); // SCAN again: same person, same link
    expect(body.links).toEqual([confirmLink(scene)]);
    const follow = stack.services.follow!;
    const { user, isNewUser } = await identifyFollower({ appid: stack.oaAppid!, store: stack.services.store, getFollowerInfo: follow.getFollowerInfo }, body.openid);
    expect([user.id, isNewUser]).toEqual([login.body.user.id, false]);
  });
});

describe('follow-to-login: compatible mode uses the ciphertext only (wechat-api-facts.md §9)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await oaStack('compatible');
    await configureServer(stack, 'compatible');
  });
  afterAll(() => stack.close());

  const scanXml = (openid: string, scene: string, createTime: number) =>
    `<xml><ToUserName><![CDATA[gh_x]]></ToUserName><FromUserName><![CDATA[${openid}]]></FromUserName><CreateTime>${createTime}</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[SCAN]]></Event><EventKey><![CDATA[${scene}]]></EventKey></xml>`;

  it('a captured URL with a plaintext body (no encrypt_type) is refused: with an EncodingAESKey WeChat always encrypts', async () => {
    const { scene } = await newAttempt(stack);
    // a real push's query as WeChat signed it (signature over Token, timestamp, nonce: no body)
    const ts = String(Math.floor(Date.now() / 1000));
    const url = `${stack.apiUrl}/api/auth/oa/push?signature=${sha1(TOKEN, ts, '77')}&timestamp=${ts}&nonce=77&openid=oMallory`;
    const res = await fetch(url, { method: 'POST', body: scanXml('oMallory', scene, Number(ts)), headers: { 'content-type': 'text/xml' } });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: { code: 'oa_push_signature_invalid' } });
    expect(await attemptOf(stack.services.store, scene)).toMatchObject({ status: 'waiting', version: 1 });
  });

  it('plaintext fields changed beside a genuine Encrypt are ignored: the decrypted message is the one handled', async () => {
    const { scene } = await newAttempt(stack);
    const ts = Math.floor(Date.now() / 1000);
    // WeChat signed a scan of a poster by oHonest; someone rewrote the plaintext copy to scan the login QR
    const encrypt = simEncrypt(KEY, stack.oaAppid!, scanXml('oHonest', 'shop_poster_1', ts));
    const body = scanXml('oMallory', scene, ts).replace('</xml>', `<Encrypt><![CDATA[${encrypt}]]></Encrypt></xml>`);
    const url = `${stack.apiUrl}/api/auth/oa/push?signature=${sha1(TOKEN, String(ts), '78')}&timestamp=${ts}&nonce=78&openid=oHonest&encrypt_type=aes&msg_signature=${sha1(TOKEN, String(ts), '78', encrypt)}`;
    const res = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'text/xml' } });
    expect([res.status, await res.text()]).toEqual([200, 'success']);
    expect(await attemptOf(stack.services.store, scene)).toMatchObject({ status: 'waiting', version: 1 });
  });
});

describe('follow-to-login: rotation, retries, latency', () => {
  it('the dev stack wires the simulated 服务器配置 itself when the API has a Token (npm run dev)', async () => {
    const stack = await oaStack('safe');
    try {
      const { scene, qr } = await newAttempt(stack); // no configureServer call
      const res = await scan(stack, 'jack', qr.content);
      expect(res.body).toMatchObject({ delivered: true, links: [confirmLink(scene)] });
    } finally {
      await stack.close();
    }
  });

  it('keeps the previous EncodingAESKey working during a rotation; the reply is encrypted under it', async () => {
    const stack = await oaStack('safe', { WECHAT_OA_ENCODING_AES_KEY: KEY, WECHAT_OA_ENCODING_AES_KEY_PREVIOUS: OLD_KEY });
    try {
      // WeChat still encrypts with the old key (the console change has not reached it yet)
      expect((await configureServer(stack, 'safe', OLD_KEY)).body).toEqual({ ok: true });
      const { qr } = await newAttempt(stack);
      const res = await scan(stack, 'erin', qr.content);
      expect(res.body).toMatchObject({ delivered: true });
      expect(res.body.links).toHaveLength(1);
    } finally {
      await stack.close();
    }
  });

  it('WeChat retries after 5 s without an answer; the retry is deduplicated and still gets the link', async () => {
    const lines: string[] = [];
    const stack = await oaStack('safe', {}, lines);
    // In front of the API: the first push is processed, but its answer is held past WeChat's 5 s.
    let posts = 0;
    const slow: Server = createServer((req, res) => {
      const delay = req.method === 'POST' && posts++ === 0 ? 5_300 : 0;
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', async () => {
        const upstream = await fetch(`${stack.apiUrl}${req.url}`, { method: req.method, body: req.method === 'POST' ? Buffer.concat(chunks) : undefined });
        const body = Buffer.from(await upstream.arrayBuffer());
        setTimeout(() => {
          res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'text/plain' });
          res.end(body);
        }, delay);
      });
    });
    await new Promise<void>((r) => slow.listen(0, '127.0.0.1', () => r()));
    try {
      const port = (slow.address() as AddressInfo).port;
      expect((await configureServer(stack, 'safe', KEY, TOKEN, `http://127.0.0.1:${port}/api/auth/oa/push`)).body).toEqual({ ok: true });
      const { scene, qr } = await newAttempt(stack);
      const res = await scan(stack, 'frank', qr.content);
      expect(res.body.attempts).toHaveLength(2);
      expect(res.body.attempts[0]).toMatchObject({ status: null });
      expect(res.body).toMatchObject({ delivered: true, links: [confirmLink(scene)] });
      expect(lines.filter((l) => l.includes('oa.follow.scanned'))).toHaveLength(1);
      expect(lines.filter((l) => l.includes('oa.push.duplicate'))).toHaveLength(1);
    } finally {
      slow.closeAllConnections();
      await new Promise<void>((r) => slow.close(() => r()));
      await stack.close();
    }
  }, 20_000);

  it('answers the event in < 2 s on a cold server while WeChat APIs are slow (no WeChat call before the reply)', async () => {
    const stack = await oaStack('safe');
    try {
      await configureServer(stack, 'safe');
      const { qr } = await newAttempt(stack); // the PC side: done before the phone scans
      // now every WeChat API the API could call is 3 s slow
      for (const api of ['stable_token', 'user_info', 'sns_userinfo']) {
        await postJson(`${stack.simUrl}/__sim/faults`, { api, mode: 'slow', delayMs: 3000 });
      }
      const res = await scan(stack, 'gina', qr.content);
      expect(res.body.delivered).toBe(true);
      expect(res.body.attempts[0].ms).toBeLessThan(2000);
    } finally {
      await stack.close();
    }
  });
});

const uri = inject('mongodbUri');
describe.skipIf(!uri)('two API processes on one MongoDB', () => {
  const dbName = `oapush_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  const stores: Storage[] = [];
  let admin: MongoClient;
  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await admin?.db(dbName).dropDatabase().catch(() => {});
    await admin?.close();
  });

  it('the event is handled by one instance, the attempt read by another', async () => {
    admin = new MongoClient(uri, { serverSelectionTimeoutMS: 10_000 });
    await migrateMongo(admin.db(dbName));
    const storeA = createMongoStore({ uri, dbName, privateClient: true });
    stores.push(storeA);
    const a = await startStack({
      env: { WECHAT_OA_TOKEN: TOKEN, WECHAT_OA_ENCODING_AES_KEY: KEY, PUBLIC_BASE_URL: 'https://login.example.com' },
      overrides: { store: storeA },
    });
    // instance B: another API process on the same database, holding the PC's side of the attempt
    const storeB = createMongoStore({ uri, dbName, privateClient: true });
    stores.push(storeB);
    const depsB = { store: storeB, logger: silentLogger } as unknown as AttemptDeps;
    try {
      await configureServer(a, 'safe');
      const { id, expiresAt } = await createAttempt(depsB, { userAgent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0.0.0' });
      const scene = `la_${id}`;
      // instance B makes the browser's follow QR (its record on the shared store names the attempt)
      const follow = a.services.follow!;
      const made = await followQrs({ store: storeB, logger: silentLogger, createQrCode: follow.createQrCode, showQrCodeUrl: follow.showQrCodeUrl }).forBrowser({ browserKey: undefined, attemptId: id, attemptExpiresAt: expiresAt });
      if ('unavailable' in made) throw new Error(made.unavailable);
      const res = await scan(a, 'henry', made.qr.content);
      expect(res.body).toMatchObject({ delivered: true, links: [confirmLink(scene)] });
      expect(await readAttempt(depsB, id)).toMatchObject({ status: 'scanned', version: 2 });
    } finally {
      await a.close();
    }
  });
});
