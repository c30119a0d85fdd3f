import { followAsPhone } from './support/wechat-phone.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServices, type Services } from '../packages/server/src/main.js';
import { optionsFromEnv } from '../packages/server/src/env.js';
import { silentLogger } from '../packages/server/src/log.js';
import { startStack, type Stack } from './support/stack.js';
import { cookieBrowser } from './support/cookie-browser.js';

/**
 * PC login with our own QR code, confirmed on the phone (issue 13 §2), over real HTTP: the API and
 * the simulator, a PC and phones played by fetch with their own cookie jars.
 */
const WECHAT_UA = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.50(0x1800323c) NetType/WIFI Language/zh_CN';
const PC_UA = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

let offsetMs = 0;
const clock = () => new Date(Date.now() + offsetMs);
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ overrides: { clock, notifyIntervalMs: 100 } });
});
afterAll(() => stack?.close());

/** A browser: a cookie jar and a User-Agent; `fetch` = which API instance answers. */
const browser = cookieBrowser;
type Browser = ReturnType<typeof browser>;

async function createAttempt(pc: Browser) {
  const res = await pc.request(`${stack.apiUrl}/api/auth/pc/attempt`, { method: 'POST' });
  expect(res.status).toBe(200);
  return (await res.json()) as { status: string; version: number; qr: string; scanUrl: string; expiresAt: string };
}

/** The phone opens the QR code's URL in WeChat as `user` and follows it to the confirmation page (consenting once if asked). */
async function scan(phone: Browser, scanUrl: string, user: string): Promise<{ html: string; status: number }> {
  return followAsPhone(phone.request, scanUrl, { base: stack.apiUrl, simUrl: stack.simUrl, user, maxHops: 10 });
}

const nonceOf = (html: string) => /name="nonce" value="([^"]+)"/.exec(html)?.[1];

/** The digit buttons of a confirmation page. */
const choicesOf = (html: string) => [...html.matchAll(/<button class="pick" type="submit" name="pick" value="(\d{2})">/g)].map((m) => m[1]!);

/**
 * 取消, or 确认 like a person: read the two digits on the PC's screen (its status, which only the PC's
 * cookie can read) and tap the button with those digits on the phone.
 */
async function decide(phone: Browser, html: string, action: 'confirm' | 'cancel', pc?: Browser) {
  const nonce = nonceOf(html);
  expect(nonce).toBeTruthy();
  const form: Record<string, string> = { nonce: nonce!, action };
  if (action === 'confirm') {
    if (!pc) throw new Error('a person confirms by reading the digits on the PC');
    const match = (await status(pc)).body.match as string;
    expect(choicesOf(html)).toContain(match);
    form.pick = match;
  }
  const res = await phone.request(`${stack.apiUrl}/api/auth/pc/confirm`, { method: 'POST', body: new URLSearchParams(form) });
  return { status: res.status, html: await res.text() };
}

const status = async (pc: Browser, query = '', base = stack.apiUrl) => {
  const res = await pc.request(`${base}/api/auth/pc/status${query}`);
  return { status: res.status, body: (await res.json()) as any };
};
const collect = async (pc: Browser) => {
  const res = await pc.request(`${stack.apiUrl}/api/auth/pc/session`, { method: 'POST' });
  return { status: res.status, body: (await res.json()) as any };
};

describe('own QR code confirmed on the phone', () => {
  it('Should log the PC in only after 确认 on the phone, once, and show the PC on the confirmation page', async () => {
    const pc = browser(PC_UA);
    const attempt = await createAttempt(pc);
    expect(attempt.status).toBe('waiting');
    expect(attempt.qr).toMatch(/^data:image\/png;base64,/);
    expect(attempt.scanUrl).toMatch(new RegExp(`^${stack.apiUrl}/api/auth/pc/scan\\?a=[A-Za-z0-9_-]{22}$`));
    // the PC's binding is an HttpOnly cookie; the body carries no key
    expect(JSON.stringify(attempt)).not.toContain(pc.jar.get(`${new URL(stack.apiUrl).host}|wx_pc_attempt`)!.split('.')[1]);

    const phone = browser(WECHAT_UA);
    const page = await scan(phone, attempt.scanUrl, 'pc-alice');
    expect(page.status).toBe(200);
    expect(page.html).toContain('确认在电脑上登录？');
    expect(page.html).toContain('Chrome 131');
    expect(page.html).toContain('Windows 10/11');
    // where the PC is: both sides are on this machine (127.0.0.1) here
    expect(page.html).toContain('<b id="pc-location">本地网络/内网（127.0.*.*）</b>');
    expect(page.html).not.toContain('id="region-warning"');
    expect((await status(pc)).body.status).toBe('scanned');
    // a scan alone logs nobody in
    expect((await collect(pc)).body).toMatchObject({ error: { code: 'pc_login_not_confirmed' } });

    const done = await decide(phone, page.html, 'confirm', pc);
    expect(done.status).toBe(200);
    expect(done.html).toContain('已确认，请回到电脑上继续');
    expect((await status(pc)).body.status).toBe('confirmed');
    const session = await collect(pc);
    expect(session.status).toBe(200);
    expect(session.body.user.nickname).toBe('pc-alice');
    const me = await fetch(`${stack.apiUrl}/api/auth/me`, { headers: { authorization: `Bearer ${session.body.token}` } });
    expect(me.status).toBe(200);
    // collected once: the cookie is gone, and the attempt answers used
    expect((await collect(pc)).body).toMatchObject({ error: { code: 'pc_login_invalid' } });
  });

  // wechat-api-facts.md §5: snsapi_base is silent and yields the openid only; §10: no unionid with it
  it('Should recognise a known person silently (snsapi_base) on the second PC login', async () => {
    const first = browser(PC_UA);
    const phone = browser(WECHAT_UA);
    const a1 = await createAttempt(first);
    await decide(phone, (await scan(phone, a1.scanUrl, 'pc-known')).html, 'confirm', first);
    const u1 = (await collect(first)).body.user.id;

    const second = browser(PC_UA);
    const a2 = await createAttempt(second);
    // no consent page this time: the walk must not pass through sns userinfo's consent
    const seen: string[] = [];
    const phone2 = browser(WECHAT_UA);
    const orig = phone2.request;
    phone2.request = async (url, init) => (seen.push(url), orig(url, init));
    const page = await scan(phone2, a2.scanUrl, 'pc-known');
    expect(seen.some((u) => u.includes('scope=snsapi_userinfo'))).toBe(false);
    await decide(phone2, page.html, 'confirm', second);
    expect((await collect(second)).body.user.id).toBe(u1);
  });

  it('Should frame-protect the confirmation page and accept 确认 only as a POST with its one-time nonce', async () => {
    const pc = browser(PC_UA);
    const attempt = await createAttempt(pc);
    const phone = browser(WECHAT_UA);
    const page = await scan(phone, attempt.scanUrl, 'pc-bob');
    const again = await phone.request(`${stack.apiUrl}/api/auth/pc/confirm`);
    expect(again.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(again.headers.get('x-frame-options')).toBe('DENY');
    const second = await again.text();
    expect(nonceOf(second)).not.toBe(nonceOf(page.html));
    // a GET with the action in the URL does nothing
    const viaGet = await phone.request(`${stack.apiUrl}/api/auth/pc/confirm?action=confirm&pick=${(await status(pc)).body.match}&nonce=${nonceOf(second)}`);
    const fresh = await viaGet.text();
    expect(fresh).toContain('确认在电脑上登录？');
    expect((await status(pc)).body.status).toBe('scanned');
    // a POST without this phone's cookie (another browser with the page's nonce) does nothing
    const stranger = browser(WECHAT_UA);
    expect((await decide(stranger, fresh, 'confirm', pc)).status).toBe(400);
    expect((await status(pc)).body.status).toBe('scanned');
    // showing the page again (twice) did not break the page shown first (issue 18 §6)
    const ok = await decide(phone, page.html, 'confirm', pc);
    expect(ok.status).toBe(200);
    // one decision spends every nonce of this scan
    expect((await decide(phone, fresh, 'confirm', pc)).status).toBe(400);
    expect((await decide(phone, second, 'cancel')).status).toBe(400);
    expect((await collect(pc)).status).toBe(200);
  });

  it('Should end the attempt on 取消: the PC sees 已取消 and gets no session', async () => {
    const pc = browser(PC_UA);
    const attempt = await createAttempt(pc);
    const phone = browser(WECHAT_UA);
    const page = await scan(phone, attempt.scanUrl, 'pc-carol');
    const res = await decide(phone, page.html, 'cancel');
    expect(res.html).toContain('已取消');
    expect((await status(pc)).body.status).toBe('cancelled');
    expect((await collect(pc)).body).toMatchObject({ error: { code: 'pc_login_cancelled' } });
    // scanning the cancelled QR again does not reopen it
    const rescanned = await scan(browser(WECHAT_UA), attempt.scanUrl, 'pc-carol');
    expect(rescanned.html).toContain('已在手机上取消此次登录');
  });

  it('Should let the first confirming person win when two phones scanned', async () => {
    const pc = browser(PC_UA);
    const attempt = await createAttempt(pc);
    const p1 = browser(WECHAT_UA);
    const p2 = browser(WECHAT_UA);
    const page1 = await scan(p1, attempt.scanUrl, 'pc-first');
    const page2 = await scan(p2, attempt.scanUrl, 'pc-second');
    expect((await decide(p2, page2.html, 'confirm', pc)).status).toBe(200);
    const late = await decide(p1, page1.html, 'confirm', pc);
    expect(late.status).toBe(409);
    expect(late.html).toContain('本次登录已完成或已取消');
    expect((await collect(pc)).body.user.nickname).toBe('pc-second');
  });

  it('Should log nobody in from a relayed QR code nobody confirms, and hand nothing to a browser without the PC cookie', async () => {
    const attacker = browser(PC_UA);
    const attempt = await createAttempt(attacker);
    const victim = browser(WECHAT_UA);
    const page = await scan(victim, attempt.scanUrl, 'pc-victim');
    expect(page.html).toContain('确认在电脑上登录？');
    // the victim does not confirm: nothing to collect
    expect((await collect(attacker)).body).toMatchObject({ error: { code: 'pc_login_not_confirmed' } });
    // another browser cannot collect even a confirmed attempt
    await decide(victim, page.html, 'confirm', attacker);
    const other = browser(PC_UA);
    expect((await collect(other)).body).toMatchObject({ error: { code: 'pc_login_invalid' } });
  });

  it('Should expire the QR code: status expired, scanning says so, a new attempt works', async () => {
    const pc = browser(PC_UA);
    const attempt = await createAttempt(pc);
    offsetMs = 3 * 60 * 1000 + 1000;
    try {
      expect((await status(pc)).body.status).toBe('expired');
      const phone = browser(WECHAT_UA);
      const page = await scan(phone, attempt.scanUrl, 'pc-late');
      expect(page.html).toContain('二维码已过期');
      expect((await collect(pc)).body).toMatchObject({ error: { code: 'pc_login_expired' } });
      // 刷新二维码 = a new attempt
      const fresh = await createAttempt(pc);
      expect(fresh.status).toBe('waiting');
      expect((await status(pc)).body.status).toBe('waiting');
    } finally {
      offsetMs = 0;
    }
  });

  it('Should answer bad input with clear errors', async () => {
    const pc = browser(PC_UA);
    expect((await status(pc)).body).toMatchObject({ error: { code: 'pc_login_invalid' } });
    pc.jar.set(`${new URL(stack.apiUrl).host}|wx_pc_attempt`, 'x'.repeat(22) + '.junk');
    expect((await status(pc)).body).toMatchObject({ error: { code: 'pc_login_invalid' } });
    const phone = browser(WECHAT_UA);
    const res = await phone.request(`${stack.apiUrl}/api/auth/pc/scan?a=nope`);
    expect(res.status).toBe(410);
    expect(await res.text()).toContain('二维码已过期');
    const post = await phone.request(`${stack.apiUrl}/api/auth/pc/confirm`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(post.status).toBe(415);
  });
});

describe('live status', () => {
  it('Should stream the status as Server-Sent Events with retry:, ending when the attempt is final', async () => {
    const pc = browser(PC_UA);
    const attempt = await createAttempt(pc);
    const res = await pc.request(`${stack.apiUrl}/api/auth/pc/events`);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    const readUntil = async (needle: string) => {
      while (!text.includes(needle)) {
        const { value, done } = await reader.read();
        if (done) break;
        text += decoder.decode(value);
      }
    };
    await readUntil('"waiting"');
    expect(text).toMatch(/^retry: 1000$/m);
    const phone = browser(WECHAT_UA);
    const page = await scan(phone, attempt.scanUrl, 'pc-sse');
    await readUntil('"scanned"');
    await decide(phone, page.html, 'confirm', pc);
    await readUntil('event: end');
    expect(text).toContain('"confirmed"');
  });

  it("Should tell a PC waiting on one API instance about the phone's 确认 on another (through the database)", async () => {
    const env = {
      NODE_ENV: 'test',
      WECHAT_MINI_APPID: stack.appid,
      WECHAT_MINI_SECRET: stack.services.config.mini.secret,
      WECHAT_API_BASE: stack.simUrl,
      WECHAT_API_FAILOVER: '',
      WECHAT_OA_APPID: stack.oaAppid!,
      WECHAT_OA_SECRET: stack.services.config.oa!.secret,
      WECHAT_OPEN_BASE: stack.simUrl,
      RATE_LIMIT_PER_ADDRESS: '0',
    };
    const other: Services = createServices(optionsFromEnv(env), { store: stack.services.store, logger: silentLogger, notifyIntervalMs: 100 });
    try {
      // the PC talks to instance B only; the phone to instance A (stack.apiUrl)
      const pc = browser(PC_UA, (req) => other.app.fetch(req));
      const attempt = await createAttempt(pc);
      const phone = browser(WECHAT_UA);
      const page = await scan(phone, attempt.scanUrl, 'pc-two-instances');
      const known = (await status(pc)).body;
      expect(known.status).toBe('scanned');
      const waiting = status(pc, `?wait=1&version=${known.version}`);
      await new Promise((r) => setTimeout(r, 150));
      const confirmedAt = Date.now();
      await decide(phone, page.html, 'confirm', pc);
      const seen = await waiting;
      expect(seen.body.status).toBe('confirmed');
      expect(Date.now() - confirmedAt).toBeLessThan(1000);
      expect((await collect(pc)).status).toBe(200);
    } finally {
      other.stop();
    }
  });
});
