import { followAsPhone } from './support/wechat-phone.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseLoaded } from '../packages/server/src/flows/attempt/location.js';
import { postJson, simCode, startStack, type Stack } from './support/stack.js';
import { cookieBrowser, type CookieBrowser } from './support/cookie-browser.js';

/**
 * QR relay (扫码登录诈骗, issue 18 §3): an attacker creates a PC login attempt and sends its link or QR
 * code to a victim in a chat. Over real HTTP, with the deployment's trusted client-address header
 * (CLIENT_ADDRESS_HEADER=x-forwarded-for) so the PC and the phone come from different places:
 * the attacker's PC in Shenzhen, the victim's phone in Beijing.
 */
const WECHAT_UA = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.50(0x1800323c) NetType/WIFI Language/zh_CN';
const PC_UA = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const SHENZHEN = '113.88.10.20'; // ip2region: 中国 广东省 深圳市
const SHENZHEN_TOO = '120.24.78.68'; // 中国 广东省 深圳市
const BEIJING = '36.112.5.6'; // 中国 北京

let offsetMs = 0;
const clock = () => new Date(Date.now() + offsetMs);
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ env: { CLIENT_ADDRESS_HEADER: 'x-forwarded-for' }, overrides: { clock, notifyIntervalMs: 100 } });
});
afterAll(() => stack?.close());

/** A browser at a network address (the trusted proxy's x-forwarded-for). */
function browserAt(ua: string, address: string): CookieBrowser {
  const inner = cookieBrowser(ua);
  return {
    ...inner,
    request(url, init = {}) {
      const headers = new Headers(init.headers);
      headers.set('x-forwarded-for', address);
      return inner.request(url, { ...init, headers });
    },
  };
}

async function createAttempt(pc: CookieBrowser) {
  const res = await pc.request(`${stack.apiUrl}/api/auth/pc/attempt`, { method: 'POST' });
  expect(res.status).toBe(200);
  return (await res.json()) as { status: string; scanUrl: string; match: string };
}

/** The phone opens the link in WeChat as `user` and follows it to the confirmation page. */
async function scan(phone: CookieBrowser, scanUrl: string, user: string): Promise<{ html: string; status: number }> {
  return followAsPhone(phone.request, scanUrl, { base: stack.apiUrl, simUrl: stack.simUrl, user, maxHops: 10 });
}

/** A PC at `pcAddress` creates an attempt; a phone at `phoneAddress` scans it in WeChat as `user`. */
async function scanned(pcAddress: string, phoneAddress: string, user: string) {
  const pc = browserAt(PC_UA, pcAddress);
  const attempt = await createAttempt(pc);
  const phone = browserAt(WECHAT_UA, phoneAddress);
  return { pc, attempt, phone, page: await scan(phone, attempt.scanUrl, user) };
}

const nonceOf = (html: string) => /name="nonce" value="([^"]+)"/.exec(html)![1]!;
const choicesOf = (html: string) => [...html.matchAll(/<button class="pick" type="submit" name="pick" value="(\d{2})">/g)].map((m) => m[1]!);
const text = (html: string, id: string) => new RegExp(`id="${id}"[^>]*>([^<]*)<`).exec(html)?.[1];
const post = async (phone: CookieBrowser, form: Record<string, string>) => {
  const res = await phone.request(`${stack.apiUrl}/api/auth/pc/confirm`, { method: 'POST', body: new URLSearchParams(form) });
  return { status: res.status, html: await res.text() };
};
const pcStatus = async (pc: CookieBrowser) => (await (await pc.request(`${stack.apiUrl}/api/auth/pc/status`)).json()) as { status: string; match?: string; error?: { code: string } };
const collect = async (pc: CookieBrowser) => {
  const res = await pc.request(`${stack.apiUrl}/api/auth/pc/session`, { method: 'POST' });
  return { status: res.status, body: (await res.json()) as any };
};

describe('the IP-region database', () => {
  it('is loaded by the first confirmation page only: not by /api/auth/health, a mini login or a new PC attempt', async () => {
    expect((await fetch(`${stack.apiUrl}/api/auth/health`)).status).toBe(200);
    expect((await postJson(`${stack.apiUrl}/api/auth/mini/login`, { code: await simCode(stack, 'relay-mini') })).status).toBe(200);
    const pc = browserAt(PC_UA, SHENZHEN);
    const attempt = await createAttempt(pc);
    expect(databaseLoaded()).toBe(false);
    await scan(browserAt(WECHAT_UA, SHENZHEN), attempt.scanUrl, 'relay-lazy');
    expect(databaseLoaded()).toBe(true);
  });
});

describe('a relayed link or QR code (扫码登录诈骗)', () => {
  it('shows the victim where the PC is, warns in red that it is not where the phone is, and says who must tap 取消', async () => {
    const { page } = await scanned(SHENZHEN, BEIJING, 'relay-victim-1');
    expect(page.status).toBe(200);
    expect(text(page.html, 'pc-location')).toBe('广东省深圳市（113.88.*.*）');
    expect(text(page.html, 'phone-location')).toBe('北京（36.112.*.*）');
    expect(page.html).toContain('<div class="alert" id="region-warning" role="alert">电脑所在地与你的手机不一致');
    expect(text(page.html, 'relay-warning')).toBe('如果不是你本人正在电脑前操作，或者有人把这个链接/二维码发给你，请点「取消」');
    // the relay warning comes before anything to tap
    expect(page.html.indexOf('relay-warning')).toBeLessThan(page.html.indexOf('name="pick"'));
  });

  it('cannot be confirmed with one careless tap: 确认 needs the PC\'s two digits, and a wrong pick ends the attempt for the PC', async () => {
    const { pc: attacker, attempt, phone: victim, page } = await scanned(SHENZHEN, BEIJING, 'relay-victim-2');
    expect(attempt.match).toMatch(/^\d{2}$/);
    // no single 确认 button: three digit buttons, one of them the PC's, and the page never names the right one
    expect(page.html).not.toMatch(/value="confirm"/);
    const choices = choicesOf(page.html);
    expect(new Set(choices).size).toBe(3);
    expect(choices).toContain(attempt.match);
    // the old one-tap form (action=confirm, no digits) confirms nothing and spends nothing
    const oneTap = await post(victim, { nonce: nonceOf(page.html), action: 'confirm' });
    expect(oneTap.status).toBe(400);
    expect((await pcStatus(attacker)).status).toBe('scanned');
    // the victim, who does not see the PC, taps a number: a wrong one cancels the attempt
    const wrong = choices.find((d) => d !== attempt.match)!;
    const tapped = await post(victim, { nonce: nonceOf(page.html), pick: wrong });
    expect(tapped.status).toBe(200);
    expect(tapped.html).toContain('data-kind="cancelled"');
    expect(tapped.html).toContain('数字与电脑上显示的不一致，已取消此次登录');
    expect((await pcStatus(attacker)).status).toBe('cancelled');
    expect((await collect(attacker)).body).toMatchObject({ error: { code: 'pc_login_cancelled' } });
    // the right digits afterwards change nothing: the attempt is over
    const late = await post(victim, { nonce: nonceOf(page.html), pick: attempt.match });
    expect(late.status).toBe(400);
    expect((await collect(attacker)).status).toBe(409);
  });

  it('the person at the PC picks the digits it shows and is logged in; same province, no region warning', async () => {
    const { pc, attempt, phone, page } = await scanned(SHENZHEN_TOO, SHENZHEN, 'relay-owner');
    expect(page.html).not.toContain('id="region-warning"');
    // the digits reach the PC only with its cookie
    expect((await pcStatus(phone)).error?.code).toBe('pc_login_invalid');
    const shown = (await pcStatus(pc)).match!;
    expect(shown).toBe(attempt.match);
    const done = await post(phone, { nonce: nonceOf(page.html), pick: shown });
    expect(done.html).toContain('已确认，请回到电脑上继续');
    const session = await collect(pc);
    expect(session.status).toBe(200);
    expect(session.body.user.nickname).toBe('relay-owner');
  });

  it('warns when the PC is abroad; not when one side is only known to be in China', async () => {
    const cases: [string, string, boolean][] = [
      ['8.8.8.8', BEIJING, true], // 美国 vs 北京
      ['39.144.0.1', BEIJING, false], // 中国 (no province) vs 北京: not comparable
      [SHENZHEN, '240e:47d:c20:1627:30a3:ba0d:a5e6:ec19', false], // 广东省 by IPv4 and by IPv6
    ];
    for (const [pcAddress, phoneAddress, warned] of cases) {
      const { page } = await scanned(pcAddress, phoneAddress, 'relay-abroad');
      expect(page.html.includes('id="region-warning"'), `${pcAddress} / ${phoneAddress}`).toBe(warned);
    }
  });

  it('names private and unknown addresses plainly and masks IPv6', async () => {
    const cases: [string, string, string][] = [
      ['192.168.3.4', '本地网络/内网（192.168.*.*）', '本地网络/内网'],
      ['240e:47d:c20:1627:30a3:ba0d:a5e6:ec19', '广东省广州市（240e:47d:*:*:*:*:*:*）', '广东省广州市'],
      ['2001:db8::7', '未知位置（2001:db8:*:*:*:*:*:*）', '未知位置'],
      // a header that is no address counts as absent: the connection's own address (http/client-address.ts)
      ['not-an-address', '本地网络/内网（127.0.*.*）', '本地网络/内网'],
    ];
    for (const [address, shown] of cases) {
      const { page } = await scanned(address, '10.1.2.3', 'relay-places');
      expect(text(page.html, 'pc-location'), address).toBe(shown);
      expect(text(page.html, 'phone-location')).toBe('本地网络/内网（10.1.*.*）');
      expect(page.html).not.toContain('id="region-warning"');
    }
  });
});

describe('issue 18 §6', () => {
  it('a second GET or a HEAD of /confirm keeps the page already shown working', async () => {
    const { pc, attempt, phone, page: first } = await scanned(SHENZHEN, SHENZHEN, 'relay-reload');
    expect((await phone.request(`${stack.apiUrl}/api/auth/pc/confirm`)).status).toBe(200);
    expect((await phone.request(`${stack.apiUrl}/api/auth/pc/confirm`, { method: 'HEAD' })).status).toBe(200);
    const done = await post(phone, { nonce: nonceOf(first.html), pick: attempt.match });
    expect(done.status).toBe(200);
    expect((await collect(pc)).status).toBe(200);
  });

  it('collect after its window answers 410 pc_login_expired', async () => {
    const { pc, attempt, phone, page } = await scanned(SHENZHEN, SHENZHEN, 'relay-late-collect');
    expect((await post(phone, { nonce: nonceOf(page.html), pick: attempt.match })).status).toBe(200);
    offsetMs = 61_000;
    try {
      const late = await collect(pc);
      expect(late.status).toBe(410);
      expect(late.body).toMatchObject({ error: { code: 'pc_login_expired' } });
    } finally {
      offsetMs = 0;
    }
  });
});
