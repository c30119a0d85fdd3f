import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPLY } from '../api/_lib/flows/follow/login.js';
import { afterReply } from '../api/_lib/http/oa-server.js';
import { createLogger } from '../api/_lib/log.js';
import { openidKey } from '../api/_lib/users/accounts.js';
import { postJson, simCode, startStack, type Stack } from './support/stack.js';
import { cookieBrowser } from './support/cookie-browser.js';

/**
 * 关注公众号登录 end to end over real HTTP (issue 14 §2 on issue 13's attempt): the PC asks for the
 * follow form, the simulated phone scans the parametric QR (subscribe / SCAN pushed to the server
 * URL in safe mode, wechat-api-facts.md §7–§9), the PC sees 已扫码, the person opens the reply's
 * link in the simulated WeChat browser, is identified there by the official account's web
 * authorization (§5: snsapi_base is silent for a known openid), taps 确认, and the PC collects a
 * session for the right account.
 */
const WECHAT_UA = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.50(0x1800323c) NetType/WIFI Language/zh_CN';
const PC_UA = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const TOKEN = 'followLogin7';
const KEY = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG';

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });

let stack: Stack;
const lines: string[] = [];
beforeAll(async () => {
  const port = await freePort();
  // the reply's link must reach this API: PUBLIC_BASE_URL is the API's own address
  stack = await startStack({
    apiPort: port,
    env: { PUBLIC_BASE_URL: `http://127.0.0.1:${port}`, WECHAT_OA_TOKEN: TOKEN, WECHAT_OA_ENCODING_AES_KEY: KEY, WECHAT_OA_MESSAGE_MODE: 'safe' },
    overrides: { notifyIntervalMs: 100, logger: createLogger((line) => lines.push(line), 'debug') },
  });
});
afterAll(() => stack?.close());

/** A browser: a cookie jar per host:port and a User-Agent; redirects followed by hand. */
const browser = (ua: string) => cookieBrowser(ua);
type Browser = ReturnType<typeof browser>;

async function pcAttempt(pc: Browser) {
  const res = await pc.request(`${stack.apiUrl}/api/auth/pc/attempt`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ form: 'follow' }) });
  expect(res.status).toBe(200);
  return (await res.json()) as { status: string; version: number; form: string; qr: string; qrImageUrl: string; scanUrl: string };
}
const pcStatus = async (pc: Browser) => (await (await pc.request(`${stack.apiUrl}/api/auth/pc/status`)).json()) as { status: string; version: number };
const collect = async (pc: Browser) => {
  const res = await pc.request(`${stack.apiUrl}/api/auth/pc/session`, { method: 'POST' });
  return { status: res.status, body: (await res.json()) as any };
};

/** The person opens a link from the chat in the simulated WeChat browser and follows it to the confirmation page. */
async function openLink(phone: Browser, openUrl: string): Promise<{ html: string; status: number }> {
  let url = openUrl;
  for (let hop = 0; hop < 12; hop++) {
    const res = await phone.request(url);
    const html = await res.text();
    if (res.status === 302) {
      url = new URL(res.headers.get('location')!, url).toString();
      continue;
    }
    const ticket = /data-ticket="([A-Za-z0-9]+)"/.exec(html)?.[1]; // the simulator's snsapi_userinfo consent
    if (ticket) {
      const allowed = await phone.request(`${stack.simUrl}/__sim/oa/consent`, { method: 'POST', body: new URLSearchParams({ ticket, action: 'allow' }) });
      url = allowed.headers.get('location')!;
      continue;
    }
    const consent = /id="consent" href="([^"]+)"/.exec(html)?.[1]; // our one tap for an unknown person
    if (consent) {
      url = new URL(consent.replace(/&#38;/g, '&'), url).toString();
      continue;
    }
    return { html, status: res.status };
  }
  throw new Error('too many redirects');
}

/** 确认 like a person: tap the two digits the PC shows (number matching, issue 18 §3). */
async function confirm(phone: Browser, html: string, pc: Browser) {
  const nonce = /name="nonce" value="([^"]+)"/.exec(html)?.[1];
  expect(nonce).toBeTruthy();
  const pick = ((await (await pc.request(`${stack.apiUrl}/api/auth/pc/status`)).json()) as { match: string }).match;
  expect(html).toContain(`name="pick" value="${pick}"`);
  const res = await phone.request(`${stack.apiUrl}/api/auth/pc/confirm`, { method: 'POST', body: new URLSearchParams({ nonce: nonce!, pick }) });
  return { status: res.status, html: await res.text() };
}

const scan = (user: string, qr: string) => postJson(`${stack.simUrl}/__sim/oa/scan`, { user, qr });

/** The background identification (after the reply) has linked the OA openid to an account. */
async function identified(openid: string): Promise<string> {
  for (let i = 0; i < 50; i++) {
    const identity = await stack.services.store.getIdentity(openidKey(stack.oaAppid!, openid));
    if (identity) return identity.userId;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('the follower was not identified after the reply');
}

describe('follow-to-login wired to the PC login attempt', () => {
  it('a person known from the mini-program follows: 已扫码 on the PC, silent authorization, 确认 → the SAME account', async () => {
    const mini = await postJson(`${stack.apiUrl}/api/auth/mini/login`, { code: await simCode(stack, 'mona') });
    expect(mini.status).toBe(200);

    const pc = browser(PC_UA);
    const attempt = await pcAttempt(pc);
    expect(attempt).toMatchObject({ form: 'follow', status: 'waiting', version: 1 });
    expect(attempt.qr).toMatch(/^data:image\/png;base64,/);
    expect(attempt.qrImageUrl.startsWith(`${stack.simUrl}/cgi-bin/showqrcode?ticket=`)).toBe(true);

    const pushed = await scan('mona', attempt.scanUrl);
    expect(pushed.body).toMatchObject({ event: 'subscribe', newFollower: true, delivered: true });
    // the link is the phone's entry of THIS attempt (the id in the PC's HttpOnly cookie)
    const id = pc.jar.get(`${new URL(stack.apiUrl).host}|wx_pc_attempt`)!.split('.')[0];
    expect(pushed.body.links).toEqual([`${stack.apiUrl}/api/auth/pc/scan?a=${id}`]);
    expect(pushed.body.shown).toBe(REPLY.confirm(pushed.body.links[0]));
    expect(await pcStatus(pc)).toMatchObject({ status: 'scanned', version: 2 });
    // a scan alone logs nobody in
    expect((await collect(pc)).body).toMatchObject({ error: { code: 'pc_login_not_confirmed' } });

    // after the reply: cgi-bin/user/info → unionid → mona's mini-program account
    expect(await identified(pushed.body.openid)).toBe(mini.body.user.id);

    const phone = browser(WECHAT_UA);
    const page = await openLink(phone, pushed.body.open[0]);
    expect(page.status).toBe(200);
    expect(page.html).toContain('确认在电脑上登录？');
    // known openid: snsapi_base only, no consent, no snsapi_userinfo
    expect(phone.seen.some((u) => u.includes('snsapi_userinfo'))).toBe(false);
    expect((await pcStatus(pc)).status).toBe('scanned');

    expect((await confirm(phone, page.html, pc)).html).toContain('已确认');
    expect((await pcStatus(pc)).status).toBe('confirmed');
    const session = await collect(pc);
    expect(session.status).toBe(200);
    expect(session.body.user.id).toBe(mini.body.user.id);
  });

  it('an existing follower scans (SCAN): the link identifies them, 确认 → the PC logs in as them', async () => {
    await postJson(`${stack.simUrl}/__sim/oa/follow`, { appid: stack.oaAppid, user: 'otto', following: true });
    const pc = browser(PC_UA);
    const attempt = await pcAttempt(pc);
    const pushed = await scan('otto', attempt.scanUrl);
    expect(pushed.body).toMatchObject({ event: 'SCAN', newFollower: false, delivered: true });
    expect((await pcStatus(pc)).status).toBe('scanned');
    const userId = await identified(pushed.body.openid);
    const phone = browser(WECHAT_UA);
    const page = await openLink(phone, pushed.body.open[0]);
    expect(page.html).toContain('确认在电脑上登录？');
    await confirm(phone, page.html, pc);
    const session = await collect(pc);
    expect(session.status).toBe(200);
    expect(session.body.user.id).toBe(userId);
  });

  it('a scanned QR that is never confirmed logs nobody in; a second person scanning it is told it is taken', async () => {
    const before = (await stack.services.store.stats()).sessions;
    const pc = browser(PC_UA);
    const attempt = await pcAttempt(pc);
    const first = await scan('pia', attempt.scanUrl);
    expect(first.body.links).toHaveLength(1);
    const page = await openLink(browser(WECHAT_UA), first.body.open[0]);
    expect(page.html).toContain('确认在电脑上登录？'); // shown, never confirmed
    const second = await scan('quin', attempt.scanUrl);
    expect(second.body).toMatchObject({ delivered: true, shown: REPLY.taken, links: [] });
    expect(await pcStatus(pc)).toMatchObject({ status: 'scanned', version: 2 });
    expect((await collect(pc)).body).toMatchObject({ error: { code: 'pc_login_not_confirmed' } });
    expect((await stack.services.store.stats()).sessions).toBe(before);
  });

  it('without form follow the attempt keeps our own QR code', async () => {
    const res = await postJson(`${stack.apiUrl}/api/auth/pc/attempt`, {});
    expect(res.body).toMatchObject({ form: 'own-qr', scanUrl: expect.stringMatching(/\/api\/auth\/pc\/scan\?a=[A-Za-z0-9_-]{22}$/) });
    expect(res.body.qrImageUrl).toBeUndefined();
  });
});

describe('the follow form without a server URL', () => {
  it('answers our own QR code (no Token: no push would ever arrive)', async () => {
    const plain = await startStack();
    try {
      const res = await postJson(`${plain.apiUrl}/api/auth/pc/attempt`, { form: 'follow' });
      expect(res.body).toMatchObject({ form: 'own-qr', status: 'waiting' });
    } finally {
      await plain.close();
    }
  });
});

describe('follow-to-login: the PC learns at once, WeChat down', () => {
  it('wakes the PC waiting on THIS instance without a database read (the adapter tells the notifier)', async () => {
    const port = await freePort();
    // the notifier's own database read is once a minute here: only `changed` can wake the PC quickly
    const slow = await startStack({
      apiPort: port,
      env: { PUBLIC_BASE_URL: `http://127.0.0.1:${port}`, WECHAT_OA_TOKEN: TOKEN },
      overrides: { notifyIntervalMs: 60_000 },
    });
    try {
      const created = await postJson(`${slow.apiUrl}/api/auth/pc/attempt`, { form: 'follow' });
      const cookie = (created.headers.get('set-cookie') ?? '').split(';')[0]!;
      const started = Date.now();
      const waiting = fetch(`${slow.apiUrl}/api/auth/pc/status?version=1&wait=1`, { headers: { cookie } }).then((r) => r.json());
      await new Promise((r) => setTimeout(r, 100)); // the long-poll is waiting
      expect((await postJson(`${slow.simUrl}/__sim/oa/scan`, { user: 'rhea', qr: created.body.scanUrl })).body).toMatchObject({ delivered: true });
      expect(await waiting).toMatchObject({ status: 'scanned', version: 2 });
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      await slow.close();
    }
  });

  it('answers a clear error when WeChat cannot make the parametric QR (and sets no PC cookie)', async () => {
    await postJson(`${stack.simUrl}/__sim/faults`, { api: 'qrcode_create', mode: 'system_error' });
    try {
      const res = await postJson(`${stack.apiUrl}/api/auth/pc/attempt`, { form: 'follow' });
      expect(res.status).toBeGreaterThanOrEqual(500);
      expect(res.body).toMatchObject({ error: { code: expect.stringMatching(/^wechat_/), requestId: expect.any(String) } });
      expect(res.headers.get('set-cookie') ?? '').not.toContain('wx_pc_attempt');
    } finally {
      await postJson(`${stack.simUrl}/__sim/faults`, { api: 'qrcode_create', mode: null });
    }
  });
});

describe('afterReply', () => {
  it('starts the task only after the caller has returned, and logs a failure instead of throwing', async () => {
    const logged: string[] = [];
    const logger = createLogger((line) => logged.push(line), 'debug');
    let started = false;
    afterReply(logger, 'test.after_failed', async () => {
      started = true;
      throw new Error('boom');
    });
    expect(started).toBe(false);
    await new Promise((r) => setTimeout(r, 20));
    expect(started).toBe(true);
    expect(logged.some((l) => l.includes('test.after_failed'))).toBe(true);
  });
});
