/// <reference path="../../packages/sim/src/qrcode.d.ts" />
/// <reference path="../../tests/setup/provided.d.ts" />
// @vitest-environment node
// PC login in headless Chromium with TWO API PROCESSES on one MongoDB (issue 13 Done-means: "the
// phone's request on one API process and the PC's connection on another"). The PC page, its live
// status and its session are served by process A (app.test:<port A>); the simulated phone's scan,
// official-account authorization and 确认 go to process B (app.test:<port B>), so A learns of the
// scan and of 确认 only through the database — each process wired as main.ts wires a MongoDB
// deployment (the change-stream notifier; on FerretDB it falls back to polling). WeChat (the
// simulator) is another site, wx.test; --host-resolver-rules maps both names to 127.0.0.1.
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createSimulator } from '../../packages/sim/src/app';
import { startApiProcess } from '../../tests/support/api-process';
import { CHROMIUM, digitsOn, launchBrowser, reachPicks, TWO_SITES, WECHAT_UA, type Browser } from './support/browser';
import { ensureBuild } from './support/build';
import { serveStatic } from './support/static-server';

const RESOLVE = TWO_SITES;

/** The MongoDB the two processes share: the test MongoDB of tests/setup/global.ts ('' with SKIP_MONGO=1). */
const uri = CHROMIUM ? inject('mongodbUri') : '';
const enabled = Boolean(CHROMIUM && uri);
if (!enabled) console.warn(`h5-pc-two-processes.test.ts skipped: ${CHROMIUM ? 'SKIP_MONGO=1' : 'no Chromium'}`);

const db = `h14_pc_e2e_${process.pid}`;
const mini = { appid: 'wx0123456789abc101', secret: randomBytes(16).toString('hex') };
const oa = { appid: 'wx0123456789abc103', secret: randomBytes(16).toString('hex') };
const children: ChildProcess[] = [];
const logs: string[][] = [];
let sim: { server: ServerType; url: string };
let siteA: Awaited<ReturnType<typeof serveStatic>>;
let siteB: Awaited<ReturnType<typeof serveStatic>>;
let appA: string;
let appB: string;
let pc: Browser;
let phone: Browser;

/** One API process (`npm start`'s scripts/serve.ts) on the shared database; resolves with its URL. */
async function startApi(): Promise<string> {
  const slot = logs.push([]) - 1; // logs[i] is the i-th process STARTED, whichever listens first
  const api = await startApiProcess({ mini, oa, simUrl: sim.url, openBase: sim.url.replace('127.0.0.1', 'wx.test'), mongodbUri: uri, mongodbDb: db, sealKey: Buffer.alloc(32, 9) });
  children.push(api.child);
  logs[slot] = api.lines;
  return api.url;
}

/** Asks the server itself: does a change stream on this database start ('init') or is it refused? */
async function serverHasChangeStreams(): Promise<boolean> {
  const client = new MongoClient(uri);
  try {
    const stream = client.db(db).collection('records').watch();
    return await new Promise<boolean>((resolve) => {
      stream.once('init', () => resolve(true));
      stream.once('error', () => resolve(false));
      stream.on('change', () => {});
    }).finally(() => stream.close().catch(() => {}));
  } finally {
    await client.close();
  }
}

beforeAll(async () => {
  if (!enabled) return;
  const simulator = createSimulator({
    apps: [
      { ...mini, openPlatformId: 'op-e2e-two' },
      { ...oa, openPlatformId: 'op-e2e-two', kind: 'oa', domains: ['app.test'] },
    ],
  });
  sim = await new Promise((resolve) => {
    const server = serve({ fetch: simulator.app.fetch, port: 0, hostname: '127.0.0.1' }, (info: AddressInfo) => resolve({ server, url: `http://127.0.0.1:${info.port}` }));
  });
  const [dir, apiA, apiB] = await Promise.all([ensureBuild('h5'), startApi(), startApi()]);
  // the same H5 build in front of each process (as one domain's two instances would be reached)
  [siteA, siteB] = await Promise.all([serveStatic(dir, apiA), serveStatic(dir, apiB)]);
  appA = siteA.url.replace('127.0.0.1', 'app.test');
  appB = siteB.url.replace('127.0.0.1', 'app.test');
  pc = await launchBrowser({ viewport: { width: 1366, height: 800 }, args: RESOLVE });
  phone = await launchBrowser({ userAgent: WECHAT_UA, args: RESOLVE });
}, 180_000);

afterAll(async () => {
  await pc?.close();
  await phone?.close();
  await siteA?.close();
  await siteB?.close();
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  sim?.server.close();
  if (uri) {
    const client = new MongoClient(uri);
    await client.db(db).dropDatabase().catch(() => {});
    await client.close();
  }
});

describe.skipIf(!enabled)('own QR code, PC on one API process, phone on another', () => {
  it('Should show 已扫码 and 登录成功 on the PC (process A) after the scan and 确认 through process B, and log the PC in', async () => {
    const page = await pc.context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    // everything the PC page asks of an API goes to A
    const pcApiHosts = new Set<string>();
    page.on('request', (r) => r.url().includes('/api/') && pcApiHosts.add(new URL(r.url()).host));
    // 登录成功 shows for a moment before the page moves on: remember it across the navigation
    await page.addInitScript(() => {
      new MutationObserver(() => {
        if (document.body?.innerText.includes('登录成功')) sessionStorage.setItem('seen-success', '1');
      }).observe(document, { subtree: true, childList: true, characterData: true });
    });
    const attempt = page.waitForResponse((r) => r.url().endsWith('/api/auth/pc/attempt'));
    await page.goto(`${appA}/uni_modules/wlu-wxlogin/pages/login/index?pc_login=own-qr`);
    const { scanUrl } = (await (await attempt).json()) as { scanUrl: string };
    await page.getByText('等待扫码', { exact: true }).waitFor({ timeout: 15_000 });
    expect(new URL(scanUrl).origin).toBe(appA);

    // the phone's WeChat opens the QR code's URL; this request lands on the other process (B)
    const phoneUrl = scanUrl.replace(appA, appB);
    const phoneApiHosts = new Set<string>();
    const phonePage = await phone.context.newPage();
    phonePage.on('request', (r) => r.url().includes('/api/') && phoneApiHosts.add(new URL(r.url()).host));
    await phone.context.addCookies([{ name: 'sim_user', value: 'pc-two-proc', url: sim.url.replace('127.0.0.1', 'wx.test') }]);
    await phonePage.goto(phoneUrl);
    await reachPicks(phonePage);
    await expect(phonePage.locator('#title').textContent()).resolves.toBe('确认在电脑上登录？');
    // A's live status learnt of B's scan through the database
    await page.getByText('已扫码，请在手机上确认').first().waitFor({ timeout: 5_000 });

    // 确认 like a person: read the two digits on the PC, tap them on the phone
    await phonePage.getByRole('button', { name: await digitsOn(page), exact: true }).click();
    await phonePage.getByText('已确认，请回到电脑上继续').waitFor();
    await page.waitForURL(`${appA}/pages/account/index`, { timeout: 15_000 });
    await page.getByText('pc-two-proc').first().waitFor({ timeout: 10_000 });
    expect(await page.evaluate(() => sessionStorage.getItem('seen-success'))).toBe('1');
    expect(await page.evaluate(() => localStorage.getItem('auth.session'))).toMatch(/[a-z2-7]{32}/);
    expect(errors).toEqual([]);
    expect([...pcApiHosts]).toEqual([new URL(appA).host]);
    expect([...phoneApiHosts]).toEqual([new URL(appB).host]);
    // each process is wired for MongoDB: the change-stream notifier; where the server refuses change
    // streams (FerretDB: 238, a standalone mongod: 40573) A fell back to polling and said so once
    const fallbacks = logs[0]!.filter((l) => l.includes('"pc.notifier.fallback_polling"')).length;
    expect(fallbacks).toBe((await serverHasChangeStreams()) ? 0 : 1);
    await Promise.all([page.close(), phonePage.close()]);
  });
});
