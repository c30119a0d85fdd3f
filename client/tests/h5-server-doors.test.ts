// @vitest-environment node
// The H5 login page shows the doors the server lists (GET /api/auth/doors), not a hand-kept list:
// a server without a website AppID offers no 微信扫码登录 button (it would only answer
// web_login_not_configured); a server with one does. The list is asked once per app start, and
// when it cannot be asked the page falls back to the host's options and says 网络不可用，请重试.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { CHROMIUM, launchBrowser } from './support/browser';
import { ensureBuild } from './support/build';
import { startStackProcess, type StackHandle } from './support/stack-process';
import { serveStatic } from './support/static-server';

const LOGIN = '/uni_modules/wlu-wxlogin/pages/login/index';
let withWeb: StackHandle;
let withoutWeb: StackHandle;
let site: Awaited<ReturnType<typeof serveStatic>>;
let siteWithoutWeb: Awaited<ReturnType<typeof serveStatic>>;
let browser: Awaited<ReturnType<typeof launchBrowser>>;

if (!CHROMIUM) console.warn('h5-server-doors.test.ts skipped: no Chromium (apt-get install chromium, or set CHROMIUM_PATH)');

beforeAll(async () => {
  if (!CHROMIUM) return;
  const [dir, a, b] = await Promise.all([ensureBuild('h5'), startStackProcess(), startStackProcess({ web: false })]);
  withWeb = a;
  withoutWeb = b;
  // the same build (no VITE_LOGIN_DOORS: the host's default web,oa) in front of each server
  [site, siteWithoutWeb] = await Promise.all([serveStatic(dir, withWeb.apiUrl), serveStatic(dir, withoutWeb.apiUrl)]);
  browser = await launchBrowser();
}, 240_000);
afterAll(async () => {
  await browser?.close();
  await site?.close();
  await siteWithoutWeb?.close();
  await withWeb?.close();
  await withoutWeb?.close();
});

/** The login buttons with this text (uni renders <button> as <uni-button>). */
const buttons = (page: Page, text: string) => page.locator('uni-button', { hasText: text });

async function openPage(): Promise<{ page: Page; errors: string[]; doorRequests: () => number }> {
  const page = await browser.context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  let asked = 0;
  page.on('request', (request) => {
    if (new URL(request.url()).pathname === '/api/auth/doors') asked++;
  });
  return { page, errors, doorRequests: () => asked };
}

it.skipIf(!CHROMIUM)('Should show no 微信扫码登录 button when the server has no website AppID (our own QR instead)', async () => {
  const { page, errors } = await openPage();
  const answered = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/auth/doors');
  await page.goto(`${siteWithoutWeb.url}${LOGIN}`);
  const doors = (await (await answered).json()) as { doors: Array<{ kind: string }> };
  expect(doors.doors.map((d) => d.kind)).not.toContain('web');
  // the PC login through the official account: our own QR code, confirmed in WeChat
  await page.locator('.pc-card').first().waitFor({ timeout: 15_000 });
  await page.locator('.pc-qr-box').first().waitFor({ timeout: 15_000 });
  await expect(page.locator('.pc-redirect').count()).resolves.toBe(0);
  await expect(buttons(page, '微信扫码登录').count()).resolves.toBe(0);
  await expect(page.getByText('网站扫码登录暂未开通', { exact: false }).count()).resolves.toBe(0);
  expect(errors).toEqual([]);
  await page.close();
});

it.skipIf(!CHROMIUM)('Should show 微信扫码登录 when the server lists its website door, asking for the doors once per app start', async () => {
  const { page, errors, doorRequests } = await openPage();
  await page.goto(`${site.url}${LOGIN}`);
  await buttons(page, '微信扫码登录').first().waitFor({ timeout: 15_000 });
  // 暂不登录 → the home page → 登录: the login page again, in the same app: no second request
  await page.getByText('暂不登录', { exact: true }).click();
  await page.locator('.home-login-btn').click();
  await page.waitForURL((u) => u.pathname === LOGIN, { timeout: 15_000 });
  await buttons(page, '微信扫码登录').first().waitFor({ timeout: 15_000 });
  await page.waitForTimeout(300);
  expect(doorRequests()).toBe(1);
  expect(errors).toEqual([]);
  await page.close();
});

it.skipIf(!CHROMIUM)('Should fall back to the host\'s doors and say 网络不可用，请重试 when /doors cannot be reached', async () => {
  const { page, errors } = await openPage();
  await page.route('**/api/auth/doors', (route) => route.abort('internetdisconnected'));
  // the server without a website app: only the host's default (web,oa) can put the button back
  await page.goto(`${siteWithoutWeb.url}${LOGIN}`);
  await page.getByText('网络不可用，请重试', { exact: true }).waitFor({ timeout: 15_000 });
  await expect(buttons(page, '微信扫码登录').count()).resolves.toBe(1);
  await expect(page.getByText('暂不登录', { exact: true }).count()).resolves.toBe(1);
  expect(errors).toEqual([]);
  await page.close();
});

it.skipIf(!CHROMIUM)('Should take a person who is already logged in on from the login page at once, without waiting for GET /doors', async () => {
  // a real session (a mini-program login against the same server), kept as the module keeps it
  const { code } = (await (await fetch(`${withWeb.simUrl}/__sim/mini/code`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ appid: withWeb.appid, user: 'h5-already-in' }) })).json()) as { code: string };
  const login = (await (await fetch(`${withWeb.apiUrl}/api/auth/mini/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code }) })).json()) as { token: string; expiresAt: string; user: unknown };
  const { page, errors } = await openPage();
  // the server's door list never answers (the module's request ends only by its own timeout)
  await page.route('**/api/auth/doors', () => undefined);
  // marks, inside the page, when the module's request for the door list ends (answered or given up)
  await page.addInitScript(() => {
    const open = XMLHttpRequest.prototype.open;
    XMLHttpRequest.prototype.open = function (this: XMLHttpRequest, method: string, url: string | URL, ...rest: unknown[]) {
      if (String(url).includes('/api/auth/doors')) this.addEventListener('loadend', () => ((window as unknown as { doorsEnded: boolean }).doorsEnded = true));
      return (open as (...args: unknown[]) => void).call(this, method, url, ...rest);
    } as typeof XMLHttpRequest.prototype.open;
  });
  await page.goto(`${site.url}/`);
  await page.evaluate((session) => localStorage.setItem('auth.session', JSON.stringify({ type: 'object', data: session })), { token: login.token, expiresAt: login.expiresAt, user: login.user });
  await page.goto(`${site.url}${LOGIN}`);
  await page.waitForURL((u) => u.pathname !== LOGIN, { timeout: 15_000 });
  // it left while the door list was still unanswered: the order of events, not a time
  expect(await page.evaluate(() => (window as unknown as { doorsEnded?: boolean }).doorsEnded ?? false)).toBe(false);
  expect(errors).toEqual([]);
  await page.close();
});

