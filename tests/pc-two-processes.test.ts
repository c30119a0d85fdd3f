import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createSimulator } from '../packages/sim/src/app.js';
import { startApiProcess } from './support/api-process.js';
import { cookieBrowser } from './support/cookie-browser.js';
import { followAsPhone } from './support/wechat-phone.js';

/**
 * PC login across two API PROCESSES sharing one MongoDB (issue 13 "the phone's request on one API
 * process and the PC's connection on another"): the phone talks to process A only, the PC's
 * Server-Sent-Events stream is held by process B, which learns of 确认 only through the database.
 */
/** the test MongoDB (tests/setup/global.ts); '' with SKIP_MONGO=1, and then this file skips */
const uri = inject('mongodbUri');
const db = `h10_pc_two_${process.pid}`;
const WECHAT_UA = 'Mozilla/5.0 (iPhone) AppleWebKit/605.1.15 Mobile/15E148 MicroMessenger/8.0.50 NetType/WIFI Language/zh_CN';
const mini = { appid: 'wx0123456789abc001', secret: randomBytes(16).toString('hex') };
const oa = { appid: 'wx0123456789abc003', secret: randomBytes(16).toString('hex') };

let sim: { server: ServerType; url: string };
const children: ChildProcess[] = [];

async function startApi(): Promise<string> {
  const api = await startApiProcess({ mini, oa, simUrl: sim.url, mongodbUri: uri!, mongodbDb: db, sealKey: Buffer.alloc(32, 7), timeoutMs: 30_000 });
  children.push(api.child);
  return api.url;
}

describe.skipIf(!uri)('two API processes on one MongoDB', () => {
  let apiA: string;
  let apiB: string;
  beforeAll(async () => {
    const simulator = createSimulator({
      apps: [
        { ...mini, openPlatformId: 'op-two' },
        { ...oa, openPlatformId: 'op-two', kind: 'oa', domains: ['127.0.0.1'] },
      ],
    });
    sim = await new Promise((resolve) => {
      const server = serve({ fetch: simulator.app.fetch, port: 0, hostname: '127.0.0.1' }, (info: AddressInfo) => resolve({ server, url: `http://127.0.0.1:${info.port}` }));
    });
    [apiA, apiB] = await Promise.all([startApi(), startApi()]);
  }, 60_000);
  afterAll(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
    sim?.server.close();
    const client = new MongoClient(uri!);
    await client.db(db).dropDatabase().catch(() => {});
    await client.close();
  });

  /** a cookie-keeping client; each request sets its own User-Agent */
  const jar = () => cookieBrowser(null).request;

  it('Should log in a PC whose stream is held by process B after 确认 on process A', async () => {
    const pc = jar();
    const created = await pc(`${apiB}/api/auth/pc/attempt`, { method: 'POST', headers: { 'user-agent': 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) Firefox/133.0' } });
    expect(created.status).toBe(200);
    const { scanUrl, match } = (await created.json()) as { scanUrl: string; match: string };
    // the QR points at B's origin; the phone's WeChat is routed to A (another instance behind one domain)
    const phoneUrl = scanUrl.replace(apiB, apiA);

    const stream = await pc(`${apiB}/api/auth/pc/events`);
    const reader = stream.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    const until = async (needle: string) => {
      while (!text.includes(needle)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`stream ended before ${needle}: ${text}`);
        text += decoder.decode(value);
      }
    };
    await until('"waiting"');

    const phone = jar();
    // every request of the phone's WeChat carries its User-Agent
    const inWeChat = (u: string, init: RequestInit = {}) => phone(u, { ...init, headers: { 'user-agent': WECHAT_UA, ...(init.headers as Record<string, string> | undefined) } });
    const { html, url } = await followAsPhone(inWeChat, phoneUrl, { simUrl: sim.url, user: 'two-proc', maxHops: 10 });
    expect(new URL(url).origin).toBe(apiA);
    expect(html).toContain('确认在电脑上登录？');
    expect(html).toContain('Firefox 133');
    await until('"scanned"');

    const nonce = /name="nonce" value="([^"]+)"/.exec(html)![1]!;
    const sent = Date.now();
    // 确认: the person taps the two digits the PC shows
    expect(html).toContain(`name="pick" value="${match}"`);
    const decided = await phone(`${apiA}/api/auth/pc/confirm`, { method: 'POST', body: new URLSearchParams({ nonce, pick: match }) });
    expect(decided.status).toBe(200);
    await until('"confirmed"');
    expect(Date.now() - sent).toBeLessThan(2000);
    await reader.cancel();

    const session = await pc(`${apiB}/api/auth/pc/session`, { method: 'POST' });
    expect(session.status).toBe(200);
    const body = (await session.json()) as { token: string; user: { nickname: string } };
    expect(body.user.nickname).toBe('two-proc');
    // the session works on either process
    expect((await fetch(`${apiA}/api/auth/me`, { headers: { authorization: `Bearer ${body.token}` } })).status).toBe(200);
  }, 60_000);
});
