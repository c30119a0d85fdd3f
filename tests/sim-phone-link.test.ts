import { createServer, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from './support/stack.js';

/**
 * Issue 18 item 8: the simulator's "open as the phone" page (GET /__sim/phone) behind the PC card's
 * development link — it plays the phone for each kind of QR and keeps WeChat's rule that the
 * official account's pages open only in WeChat's browser.
 */
const WECHAT_UA = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.50(0x1800323c) NetType/WIFI Language/zh_CN';
const DESKTOP_UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.close());

const phone = (query: Record<string, string>, ua = DESKTOP_UA) =>
  fetch(`${stack.simUrl}/__sim/phone?${new URLSearchParams(query)}`, { redirect: 'manual', headers: { 'user-agent': ua } });

/** a website QR page opened by the PC (the simulator's qrconnect), with the uuid and the phone URL it shows */
async function websiteQr(state: string) {
  const url = new URL(`${stack.simUrl}/connect/qrconnect`);
  for (const [k, v] of Object.entries({ appid: stack.webAppid!, redirect_uri: `${stack.apiUrl}/api/auth/web/callback`, response_type: 'code', scope: 'snsapi_login', state })) url.searchParams.set(k, v);
  const html = await (await fetch(url)).text();
  return { uuid: /data-uuid="([0-9a-f]+)"/.exec(html)![1]!, phoneUrl: /data-phone-url="([^"]+)"/.exec(html)![1]! };
}

describe('GET /__sim/phone (development "open as the phone")', () => {
  it('a website QR (by its content, or by app and state for a WxLogin iframe): the phone page as that person', async () => {
    const { uuid, phoneUrl } = await websiteQr('devphone1');
    for (const query of [{ qr: phoneUrl, user: 'bob' }, { appid: stack.webAppid!, state: 'devphone1', user: 'bob' }] as Record<string, string>[]) {
      const res = await phone(query);
      expect(res.status).toBe(302);
      expect(res.headers.get('location')).toBe(`/__sim/web/scan/${uuid}?user=bob`);
    }
    expect((await phone({ appid: stack.webAppid!, state: 'neveropened' })).status).toBe(404);
  });

  it('our own QR (a web page): WeChat’s browser opens it as that person; another browser is told what WeChat needs', async () => {
    const page = `${stack.apiUrl}/api/auth/pc/scan?a=xyz`;
    const inWechat = await phone({ qr: page, user: 'carol' }, WECHAT_UA);
    expect(inWechat.status).toBe(302);
    expect(inWechat.headers.get('location')).toBe(page);
    expect(inWechat.headers.get('set-cookie')).toContain('sim_user=carol');

    const desktop = await phone({ qr: page, user: 'carol' });
    expect(desktop.status).toBe(200);
    const html = await desktop.text();
    expect(html).toContain('id="needs-wechat"');
    expect(html).toContain('MicroMessenger');
    expect(html).toContain(page);
  });

  it('bad input: a clear 400, never a crash', async () => {
    expect((await phone({ qr: 'not a link' })).status).toBe(400);
    expect((await phone({ qr: 'javascript:alert(1)' })).status).toBe(400);
    expect((await phone({ qr: `${stack.apiUrl}/x`, user: 'bad user!' })).status).toBe(400);
  });
});

describe('GET /__sim/phone with the official account’s follow QR', () => {
  const TOKEN = 'phoneLink7';
  const KEY = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG';
  let follow: Stack;
  beforeAll(async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const { port: p } = s.address() as AddressInfo;
        s.close(() => resolve(p));
      });
    });
    follow = await startStack({ apiPort: port, env: { PUBLIC_BASE_URL: `http://127.0.0.1:${port}`, WECHAT_OA_TOKEN: TOKEN, WECHAT_OA_ENCODING_AES_KEY: KEY, WECHAT_OA_MESSAGE_MODE: 'safe' } });
  });
  afterAll(() => follow?.close());

  it('scans as that person and shows the reply; its links open only through /__sim/oa/open for that person, and only in WeChat’s browser', async () => {
    const pc = await fetch(`${follow.apiUrl}/api/auth/pc/attempt`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ form: 'follow' }) });
    expect(pc.status).toBe(200);
    const cookie = pc.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
    const shown = (await (await fetch(`${follow.apiUrl}/api/auth/pc/follow-qr`, { method: 'POST', headers: { cookie } })).json()) as { form: string; scanUrl: string };
    expect(shown.form).toBe('follow');
    const phoneAt = (ua: string) => fetch(`${follow.simUrl}/__sim/phone?${new URLSearchParams({ qr: shown.scanUrl, user: 'dora' })}`, { redirect: 'manual', headers: { 'user-agent': ua } });
    const hrefs = (html: string) => [...html.matchAll(/class="phone-open[^"]*" href="([^"]+)"/g)].map((m) => m[1]!.replace(/&#38;|&amp;/g, '&'));

    // another browser: the scan happens (dora follows), the links are shown with what WeChat needs
    const desktop = await phoneAt(DESKTOP_UA);
    expect(desktop.status).toBe(200);
    const first = await desktop.text();
    expect(first).toContain('dora 扫码关注了公众号');
    expect(first).toContain('id="needs-wechat"');
    const links = hrefs(first);
    expect(links.length).toBeGreaterThan(0);
    for (const link of links) {
      const url = new URL(link);
      // never the reply's link itself: WeChat's browser opens it as the person who got it
      expect(`${url.origin}${url.pathname}`).toBe(`${follow.simUrl}/__sim/oa/open`);
      expect(url.searchParams.get('user')).toBe('dora');
      expect(url.searchParams.get('url')).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/api\//);
      // the same link for someone else: refused (nobody else was sent it)
      const other = new URL(link);
      other.searchParams.set('user', 'mallory');
      expect((await fetch(other, { redirect: 'manual' })).status).toBe(404);
      const open = await fetch(link, { redirect: 'manual' });
      expect(open.status).toBe(302);
      expect(open.headers.get('location')).toBe(url.searchParams.get('url'));
      expect(open.headers.get('set-cookie')).toContain('sim_user=dora');
    }

    // WeChat's browser, scanning again: SCAN (already following), the links as buttons, no UA advice
    const wechat = await phoneAt(WECHAT_UA);
    expect(wechat.status).toBe(200);
    const again = await wechat.text();
    expect(again).toContain('dora 扫码（已关注）');
    expect(again).not.toContain('id="needs-wechat"');
    expect(hrefs(again).every((l) => l.startsWith(`${follow.simUrl}/__sim/oa/open?`))).toBe(true);
  });
});
