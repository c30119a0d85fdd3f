import { storeStats } from './support/records.js';
import { followAsPhone } from './support/wechat-phone.js';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { followQrs, handlePush, REPLY } from '../packages/server/src/flows/follow/login.js';
import { parsePushMessage } from '../packages/server/src/wechat/push/events.js';
import { WechatApiError, WechatUnavailableError } from '../packages/server/src/wechat/transport.js';
import { probeFollowQr } from '../scripts/lib/deploy-check.js';
import { afterReply } from '../packages/server/src/http/oa-server.js';
import { createLogger, silentLogger } from '../packages/server/src/log.js';
import { openidKey } from '../packages/server/src/users/accounts.js';
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

/** The PC page with the follow form: the attempt, then — when the card is shown — its QR (POST /follow-qr). */
async function pcAttempt(pc: Browser, on: Stack = stack) {
  const res = await pc.request(`${on.apiUrl}/api/auth/pc/attempt`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ form: 'follow' }) });
  expect(res.status).toBe(200);
  const attempt = (await res.json()) as { status: string; version: number; form: string };
  const shown = await pc.request(`${on.apiUrl}/api/auth/pc/follow-qr`, { method: 'POST' });
  expect(shown.status).toBe(200);
  return { ...attempt, ...((await shown.json()) as { form: string; qr: string; qrImageUrl: string; scanUrl: string }) };
}
const pcStatus = async (pc: Browser) => (await (await pc.request(`${stack.apiUrl}/api/auth/pc/status`)).json()) as { status: string; version: number };
const collect = async (pc: Browser) => {
  const res = await pc.request(`${stack.apiUrl}/api/auth/pc/session`, { method: 'POST' });
  return { status: res.status, body: (await res.json()) as any };
};

/** The person opens a link from the chat in the simulated WeChat browser and follows it to the confirmation page. */
async function openLink(phone: Browser, openUrl: string): Promise<{ html: string; status: number }> {
  return followAsPhone(phone.request, openUrl, { simUrl: stack.simUrl });
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
    const identity = await stack.services.store.accounts.getIdentity(openidKey(stack.oaAppid!, openid));
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
    const before = (await storeStats(stack.services.store)).sessions;
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
    expect((await storeStats(stack.services.store)).sessions).toBe(before);
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
      const shown = await postJson(`${slow.apiUrl}/api/auth/pc/follow-qr`, {}, { cookie });
      const started = Date.now();
      const waiting = fetch(`${slow.apiUrl}/api/auth/pc/status?version=1&wait=1`, { headers: { cookie } }).then((r) => r.json());
      await new Promise((r) => setTimeout(r, 100)); // the long-poll is waiting
      expect((await postJson(`${slow.simUrl}/__sim/oa/scan`, { user: 'rhea', qr: shown.body.scanUrl })).body).toMatchObject({ delivered: true });
      expect(await waiting).toMatchObject({ status: 'scanned', version: 2 });
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      await slow.close();
    }
  });

  it('WeChat busy (-1) on qrcode/create: the PC gets our own QR, which logs in; the reason is logged once', async () => {
    await postJson(`${stack.simUrl}/__sim/faults`, { api: 'qrcode_create', mode: 'system_error', times: 2 });
    lines.length = 0;
    try {
      const pc = browser(PC_UA);
      const first = await pcAttempt(pc);
      expect(first).toMatchObject({ form: 'own-qr', scanUrl: expect.stringMatching(/\/api\/auth\/pc\/scan\?a=[A-Za-z0-9_-]{22}$/) });
      expect(first.qr).toMatch(/^data:image\/png;base64,/);
      expect((await pcAttempt(browser(PC_UA))).form).toBe('own-qr');
      expect(lines.filter((l) => l.includes('oa.follow.qr_unavailable'))).toHaveLength(1);
      expect(lines.find((l) => l.includes('oa.follow.qr_unavailable'))).toContain('"reason":"-1"');
      // the own QR works: the phone scans it, is identified by web authorization, confirms
      await postJson(`${stack.apiUrl}/api/auth/mini/login`, { code: await simCode(stack, 'busy-bo') });
      const phone = browser(WECHAT_UA);
      phone.jar.set(`${new URL(stack.simUrl).host}|sim_user`, 'busy-bo');
      const page = await openLink(phone, first.scanUrl);
      expect(page.html).toContain('确认在电脑上登录？');
      await confirm(phone, page.html, pc);
      expect((await collect(pc)).status).toBe(200);
    } finally {
      await postJson(`${stack.simUrl}/__sim/faults`, { api: 'qrcode_create', mode: null });
    }
  });
});

describe('follow-to-login: the reply link belongs to the person who scanned (issue 18 §2)', () => {
  it('a forwarded reply link: the victim who opens it is refused in Chinese, nothing changes, the scanner still confirms', async () => {
    // the victim has an account the official account knows (so snsapi_base would find them silently)
    const victimLogin = await postJson(`${stack.apiUrl}/api/auth/mini/login`, { code: await simCode(stack, 'vera') });
    const warm = await pcAttempt(browser(PC_UA));
    const victimPhone = browser(WECHAT_UA);
    const own = await scan('vera', warm.scanUrl);
    await identified(own.body.openid);
    await openLink(victimPhone, own.body.open[0]); // vera's own link: she is known to the official account now

    // the attacker's PC shows a follow QR; the attacker scans it himself and gets the reply
    const attackerPc = browser(PC_UA);
    const attempt = await pcAttempt(attackerPc);
    const pushed = await scan('mallory', attempt.scanUrl);
    expect(pushed.body.shown).toBe(REPLY.confirm(pushed.body.links[0]));
    const before = await pcStatus(attackerPc);
    expect(before.status).toBe('scanned');

    // …and forwards "确认登录" to vera, who taps it in her WeChat
    const victim = browser(WECHAT_UA);
    victim.jar.set(`${new URL(stack.simUrl).host}|sim_user`, 'vera');
    const refused = await openLink(victim, pushed.body.links[0]);
    expect(refused.status).toBe(403);
    expect(refused.html).toContain('此确认链接只能由扫码的微信本人打开');
    expect(refused.html).not.toContain('name="nonce"');
    expect(victim.seen.some((u) => u.includes('snsapi_userinfo'))).toBe(false);
    // nothing changed: same status and version, no confirmation possible, nothing to collect
    expect(await pcStatus(attackerPc)).toEqual(before);
    expect((await collect(attackerPc)).body).toMatchObject({ error: { code: 'pc_login_not_confirmed' } });

    // the real scanner opening his own link still gets the confirmation page
    const scanner = browser(WECHAT_UA);
    const page = await openLink(scanner, pushed.body.open[0]);
    expect(page.html).toContain('确认在电脑上登录？');
    expect((await confirm(scanner, page.html, attackerPc)).html).toContain('已确认');
    const session = await collect(attackerPc);
    expect(session.status).toBe(200);
    expect(session.body.user.id).not.toBe(victimLogin.body.user.id);
  });

  it('GET /confirm?k= plants no confirmation key in the phone (login CSRF)', async () => {
    const phone = browser(WECHAT_UA);
    const res = await phone.request(`${stack.apiUrl}/api/auth/pc/confirm?k=${'A'.repeat(32)}`);
    expect(res.headers.getSetCookie().join('\n')).not.toContain('wx_pc_confirm');
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect([...phone.jar.keys()].some((k) => k.endsWith('|wx_pc_confirm'))).toBe(false);
  });
});

describe('follow-to-login: where the reply link points (issue 18 §2)', () => {
  it('without PUBLIC_BASE_URL, on a port other than 3000, the link reaches the API that answered the push', async () => {
    const port = await freePort();
    const dev = await startStack({ apiPort: port, env: { WECHAT_OA_TOKEN: TOKEN, WECHAT_OA_ENCODING_AES_KEY: KEY, WECHAT_OA_MESSAGE_MODE: 'safe' } });
    try {
      const pc = browser(PC_UA);
      const attempt = await pcAttempt(pc, dev);
      expect(attempt.form).toBe('follow');
      const pushed = await postJson(`${dev.simUrl}/__sim/oa/scan`, { user: 'devon', qr: attempt.scanUrl });
      expect(pushed.body.links).toHaveLength(1);
      expect(pushed.body.links[0].startsWith(`${dev.apiUrl}/api/auth/pc/scan?a=`)).toBe(true);
      // and it is alive: the person reaches the confirmation page through it
      const phone = browser(WECHAT_UA);
      phone.jar.set(`${new URL(dev.simUrl).host}|sim_user`, 'devon');
      let url = pushed.body.links[0] as string;
      for (let hop = 0; hop < 12; hop++) {
        const res = await phone.request(url);
        const html = await res.text();
        if (res.status === 302) url = new URL(res.headers.get('location')!, url).toString();
        else if (/id="consent" href="([^"]+)"/.test(html)) url = new URL(/id="consent" href="([^"]+)"/.exec(html)![1]!.replace(/&#38;/g, '&'), url).toString();
        else if (/data-ticket="([A-Za-z0-9]+)"/.test(html)) {
          const ticket = /data-ticket="([A-Za-z0-9]+)"/.exec(html)![1]!;
          url = (await phone.request(`${dev.simUrl}/__sim/oa/consent`, { method: 'POST', body: new URLSearchParams({ ticket, action: 'allow' }) })).headers.get('location')!;
        } else {
          expect(html).toContain('确认在电脑上登录？');
          return;
        }
      }
      throw new Error('never reached the confirmation page');
    } finally {
      await dev.close();
    }
  });
});

describe('follow-to-login on an account that cannot make parametric QR codes (48001)', () => {
  for (const type of ['unverified-service', 'subscription'] as const) {
    it(`${type}: the PC gets a usable own QR, WeChat's 48001 is logged once`, async () => {
      const logged: string[] = [];
      const acct = await startStack({ env: { WECHAT_OA_TOKEN: TOKEN, WECHAT_OA_ENCODING_AES_KEY: KEY }, overrides: { logger: createLogger((line) => logged.push(line), 'debug') } });
      try {
        expect((await postJson(`${acct.simUrl}/__sim/apps/oa-type`, { appid: acct.oaAppid, type })).body).toEqual({ ok: true });
        const results = [];
        for (let i = 0; i < 3; i++) results.push(await pcAttempt(browser(PC_UA), acct));
        for (const r of results) {
          expect(r).toMatchObject({ form: 'own-qr', scanUrl: expect.stringMatching(new RegExp(`^${acct.apiUrl}/api/auth/pc/scan\\?a=[A-Za-z0-9_-]{22}$`)) });
          expect(r.qr).toMatch(/^data:image\/png;base64,/);
        }
        const notes = logged.filter((l) => l.includes('oa.follow.qr_unavailable'));
        expect(notes).toHaveLength(1);
        expect(notes[0]).toContain('"reason":"48001"');
        expect(notes[0]).toContain('认证服务号');
        // after 48001 the instance stops asking WeChat for a while
        expect(acct.sim.calls.get('qrcode_create')).toBe(1);
      } finally {
        await acct.close();
      }
    });
  }

  it('npm run doctor -- --wechat tells the operator when the account cannot make parametric QR codes', async () => {
    const acct = await startStack({ env: { WECHAT_OA_TOKEN: TOKEN } });
    try {
      const config = acct.services.config;
      expect(await probeFollowQr(config)).toEqual([{ status: 'ok', text: expect.stringContaining('can create parametric QR codes') }]);
      await postJson(`${acct.simUrl}/__sim/apps/oa-type`, { appid: acct.oaAppid, type: 'unverified-service' });
      const [line] = await probeFollowQr(config);
      expect(line).toMatchObject({ status: 'warn', text: expect.stringContaining('48001') });
      expect(line!.text).toContain('认证服务号');
      expect(JSON.stringify(line)).not.toContain(config.oa!.secret);
    } finally {
      await acct.close();
    }
  });

  it('any qrcode/create failure (45009 quota, timeout, -1) gives our own QR, each reason logged once', async () => {
    const logged: string[] = [];
    const failures = [new WechatApiError('/cgi-bin/qrcode/create', 45009, 'reach max api daily quota limit'), new WechatUnavailableError('/cgi-bin/qrcode/create', 'timeout', 'timed out'), new WechatApiError('/cgi-bin/qrcode/create', -1, 'system error')];
    let next = 0;
    const qrs = followQrs({
      store: stack.services.store,
      logger: createLogger((line) => logged.push(line), 'debug'),
      createQrCode: async () => {
        throw failures[next++ % failures.length];
      },
      showQrCodeUrl: (t) => t,
    });
    const results = [];
    for (let i = 0; i < 6; i++) results.push(await qrs.forBrowser({ browserKey: undefined, attemptId: 'A'.repeat(22), attemptExpiresAt: new Date(Date.now() + 180_000) }));
    expect(results).toEqual(['45009', 'timeout', '-1', '45009', 'timeout', '-1'].map((unavailable) => ({ unavailable })));
    const notes = logged.filter((l) => l.includes('oa.follow.qr_unavailable')).map((l) => JSON.parse(l).reason);
    expect(notes).toEqual(['45009', 'timeout', '-1']);
  });

  it('the simulator answers 48001 like WeChat for those account types, and a ticket for a verified service account', async () => {
    const acct = await startStack({ env: { WECHAT_OA_TOKEN: TOKEN } });
    try {
      const token = await acct.services.oaAccessTokens!.withToken(async (t) => t);
      const create = async () => (await postJson(`${acct.simUrl}/cgi-bin/qrcode/create?access_token=${token}`, { expire_seconds: 60, action_name: 'QR_STR_SCENE', action_info: { scene: { scene_str: 'x' } } })).body;
      expect(await create()).toMatchObject({ ticket: expect.any(String) });
      await postJson(`${acct.simUrl}/__sim/apps/oa-type`, { appid: acct.oaAppid, type: 'subscription' });
      expect(await create()).toMatchObject({ errcode: 48001 });
      await postJson(`${acct.simUrl}/__sim/apps/oa-type`, { appid: acct.oaAppid, type: 'verified-service' });
      expect(await create()).toMatchObject({ ticket: expect.any(String) });
      expect((await postJson(`${acct.simUrl}/__sim/apps/oa-type`, { appid: acct.oaAppid, type: 'premium' })).status).toBe(400);
    } finally {
      await acct.close();
    }
  });
});

describe('follow-to-login: qrcode/create quota (issue 18 §2)', () => {
  it('creating a follow attempt calls no WeChat API; the QR is made when the page shows it and reused by that browser', async () => {
    const calls = () => stack.sim.calls.get('qrcode_create') ?? 0;
    const start = calls();
    const pc = browser(PC_UA);
    const created = await pc.request(`${stack.apiUrl}/api/auth/pc/attempt`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ form: 'follow' }) });
    expect(await created.json()).toMatchObject({ form: 'follow', status: 'waiting' });
    expect(calls()).toBe(start);
    const first = (await (await pc.request(`${stack.apiUrl}/api/auth/pc/follow-qr`, { method: 'POST' })).json()) as { form: string; scanUrl: string };
    expect(first.form).toBe('follow');
    expect(calls()).toBe(start + 1);
    // the same browser's next attempt (the QR expired on screen, 刷新): the same WeChat QR, no new call
    const second = await pcAttempt(pc);
    expect(second.scanUrl).toBe(first.scanUrl);
    expect(calls()).toBe(start + 1);
    // a scan now lands on the attempt on screen (the second), not the first
    const pushed = await scan('quota-q', second.scanUrl);
    const id = pc.jar.get(`${new URL(stack.apiUrl).host}|wx_pc_attempt`)!.split('.')[0];
    expect(pushed.body.links).toEqual([`${stack.apiUrl}/api/auth/pc/scan?a=${id}`]);
    expect(await pcStatus(pc)).toMatchObject({ status: 'scanned' });
    // another browser gets its own QR
    expect((await pcAttempt(browser(PC_UA))).scanUrl).not.toBe(first.scanUrl);
    // the QR is only for a waiting attempt of this browser
    expect((await postJson(`${stack.apiUrl}/api/auth/pc/follow-qr`, {})).body).toMatchObject({ error: { code: 'pc_login_invalid' } });
  });

  it('follow QR codes have their own small per-address limit: a script without cookies is stopped, with Retry-After', async () => {
    const limited = await startStack({ env: { WECHAT_OA_TOKEN: TOKEN, RATE_LIMIT_PER_ADDRESS: '1000' } });
    try {
      const statuses: number[] = [];
      let retryAfter: string | null = null;
      for (let i = 0; i < 12; i++) {
        const created = await postJson(`${limited.apiUrl}/api/auth/pc/attempt`, { form: 'follow' });
        const cookie = (created.headers.get('set-cookie') ?? '').split(';')[0]!;
        const res = await postJson(`${limited.apiUrl}/api/auth/pc/follow-qr`, {}, { cookie });
        statuses.push(res.status);
        if (res.status === 429) {
          expect(res.body).toMatchObject({ error: { code: 'too_many_requests' } });
          retryAfter = res.headers.get('retry-after');
        }
      }
      expect(statuses.slice(0, 10)).toEqual(Array(10).fill(200));
      expect(statuses.slice(10)).toEqual([429, 429]);
      expect(Number(retryAfter)).toBeGreaterThan(0);
      expect(limited.sim.calls.get('qrcode_create')).toBe(10);
    } finally {
      await limited.close();
    }
  });
});

describe('follow-to-login: the push handler keeps its first answer', () => {
  const message = (fromUser: string, scene: string) => parsePushMessage({ ToUserName: 'gh_x', FromUserName: fromUser, CreateTime: String(Math.floor(Date.now() / 1000)), MsgType: 'event', Event: 'SCAN', EventKey: scene });

  it('a retry of a delivery whose handling failed is handled again (the scan is not lost), a later retry gets that answer', async () => {
    const attemptId = 'B'.repeat(22);
    const qrs = followQrs({ store: stack.services.store, logger: silentLogger, createQrCode: async () => ({ ticket: 't', url: 'http://weixin.qq.com/q/x', expireSeconds: 1800 }), showQrCodeUrl: (t) => t });
    const made = await qrs.forBrowser({ browserKey: undefined, attemptId, attemptExpiresAt: new Date(Date.now() + 180_000) });
    if ('unavailable' in made) throw new Error('no QR');
    const scene = `la_${made.browserKey!.split('.')[0]}`;
    let failures = 1;
    const deps = {
      appid: 'wxfollow',
      store: stack.services.store,
      logger: silentLogger,
      port: {
        markScanned: async (id: string) => {
          if (failures-- > 0) throw new Error('store hiccup');
          return id === attemptId ? ('scanned' as const) : ('unknown' as const);
        },
        confirmUrl: (id: string, origin: string) => `${origin}/api/auth/pc/scan?a=${id}`,
      },
    };
    const push = message('oRetryAfterError', scene);
    await expect(handlePush(deps, push, 'http://api.test')).rejects.toThrow('store hiccup');
    const retried = await handlePush(deps, push, 'http://api.test');
    expect(retried.reply).toBe(REPLY.confirm(`http://api.test/api/auth/pc/scan?a=${attemptId}`));
    expect(await handlePush(deps, push, 'http://api.test')).toEqual({ reply: retried.reply, identifyAfterReply: null });
  });
});

describe('afterReply', () => {
  it('starts the task only after the caller has returned, and logs a failure instead of throwing', async () => {
    const logged: string[] = [];
    const logger = createLogger((line) => logged.push(line), 'debug');
    let started = false;
    await afterReply(logger, 'test.after_failed', async () => {
      started = true;
      throw new Error('boom');
    });
    expect(started).toBe(false);
    await new Promise((r) => setTimeout(r, 20));
    expect(started).toBe(true);
    expect(logged.some((l) => l.includes('test.after_failed'))).toBe(true);
  });
});
