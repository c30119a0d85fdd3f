// @vitest-environment node
// The right door on every device (issue 14), in the H5 release build in Chromium with real
// User-Agents: a phone browser outside WeChat gets 请在微信中打开 + 复制链接 and no QR button; WeCom
// gets an explanation; the mini-program's web-view is logged in from the mini-program's session
// through a one-time ticket (no authorization page), and a second use of the ticket logs nobody in.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CHROMIUM, launchBrowser } from './support/browser';
import { ensureBuild } from './support/build';
import { startStackProcess, type StackHandle } from './support/stack-process';
import { serveStatic } from './support/static-server';

const IPHONE_SAFARI = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1';
const WECOM = 'Mozilla/5.0 (iPhone; CPU iPhone OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 wxwork/4.1.16 MicroMessenger/7.0.1 Language/zh ColorScheme/Light';
const MINI_WEBVIEW =
  'Mozilla/5.0 (Linux; Android 13; M2012K11AC Build/TKQ1.220829.002; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/111.0.5563.116 Mobile Safari/537.36 XWEB/5317 MMWEBSDK/20230805 MMWEBID/6153 MicroMessenger/8.0.42.2460(0x28002A58) WeChat/arm64 Weixin NetType/WIFI Language/zh_CN ABI/arm64 miniProgram/wx1234567890abcdef';

let stack: StackHandle;
let site: Awaited<ReturnType<typeof serveStatic>>;

if (!CHROMIUM) console.warn('h5-doors.test.ts skipped: no Chromium (apt-get install chromium, or set CHROMIUM_PATH)');

beforeAll(async () => {
  if (!CHROMIUM) return;
  const [dir, started] = await Promise.all([ensureBuild('h5'), startStackProcess()]);
  stack = started;
  site = await serveStatic(dir, stack.apiUrl);
});
afterAll(async () => {
  await site?.close();
  await stack?.close();
});

async function withBrowser(userAgent: string, run: (browser: Awaited<ReturnType<typeof launchBrowser>>) => Promise<void>) {
  const browser = await launchBrowser({ userAgent });
  try {
    await run(browser);
  } finally {
    await browser.close();
  }
}

it.skipIf(!CHROMIUM)('Should tell a phone browser outside WeChat 请在微信中打开, with 复制链接 and no QR button', async () => {
  await withBrowser(IPHONE_SAFARI, async (browser) => {
    const page = await browser.context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${site.url}/uni_modules/wlu-wxlogin/pages/login/index`);
    await page.getByText('请在微信中打开', { exact: true }).waitFor({ timeout: 15_000 });
    await expect(page.getByText('微信扫码登录', { exact: true }).count()).resolves.toBe(0);
    await expect(page.getByText('微信授权登录', { exact: true }).count()).resolves.toBe(0);
    await page.getByText('复制链接', { exact: true }).click();
    await page.getByText('已复制', { exact: true }).waitFor({ timeout: 5_000 });
    expect(errors).toEqual([]);
  });
});

it.skipIf(!CHROMIUM)('Should explain on WeCom (企业微信) instead of starting an official-account authorization', async () => {
  await withBrowser(WECOM, async (browser) => {
    const page = await browser.context.newPage();
    const seen: string[] = [];
    page.on('request', (request) => request.isNavigationRequest() && seen.push(request.url()));
    await page.goto(`${site.url}/uni_modules/wlu-wxlogin/pages/login/index`);
    await page.getByText('企业微信暂不支持微信登录，请在微信中打开本页面', { exact: true }).waitFor({ timeout: 15_000 });
    await page.waitForTimeout(500);
    expect(seen.some((u) => u.includes('/api/auth/oa/start') || u.includes('/connect/oauth2/authorize'))).toBe(false);
  });
});

it.skipIf(!CHROMIUM)('Should log the mini-program web-view in from the mini-program session with a one-time ticket', async () => {
  // the mini-program side: wx.login → session → ticket (what webviewUrl() does)
  const code = (await (await fetch(`${stack.simUrl}/__sim/mini/code`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ appid: stack.appid, user: 'webview-user' }) })).json()).code;
  const mini = await (await fetch(`${stack.apiUrl}/api/auth/mini/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code }) })).json();
  const { ticket } = await (await fetch(`${stack.apiUrl}/api/auth/webview/ticket`, { method: 'POST', headers: { authorization: `Bearer ${mini.token}` } })).json();
  const url = `${site.url}/uni_modules/wlu-wxlogin/pages/login/index?wv_ticket=${ticket}&next=${encodeURIComponent('/pages/account/index')}`;

  await withBrowser(MINI_WEBVIEW, async (browser) => {
    const page = await browser.context.newPage();
    const seen: string[] = [];
    // every request the page makes, with the Referer it sends: the ticket must travel in none of them
    const referers: Array<{ url: string; referer: string | undefined }> = [];
    page.on('request', (request) => {
      if (request.isNavigationRequest()) seen.push(request.url());
      else referers.push({ url: request.url(), referer: request.headers()['referer'] });
    });
    await page.goto(url);
    // logged in: the page leaves (to the profile fill-in, as after any first login without a nickname)
    await page.waitForURL((u) => !u.pathname.startsWith('/uni_modules/wlu-wxlogin/pages/login/'), { timeout: 15_000 });
    expect(new URL(page.url()).pathname).toMatch(/^\/(pages\/account|uni_modules\/wlu-wxlogin\/pages\/profile)\/index$/);
    expect(page.url()).not.toContain('wv_ticket');
    // no second authorization: WeChat's authorize page was never opened
    expect(seen.some((u) => u.includes('/connect/oauth2/authorize'))).toBe(false);
    const token = await page.evaluate(() => Object.keys(localStorage).map((k) => localStorage.getItem(k) ?? '').join('\n'));
    expect(token).not.toContain(mini.token); // its own session, not the mini-program's token
    // the page's scripts, styles and API calls were requested — without the ticket in a Referer
    expect(referers.filter((r) => r.url.startsWith(site.url)).length).toBeGreaterThanOrEqual(3);
    expect(referers.filter((r) => r.referer?.includes('wv_ticket'))).toEqual([]);
    expect(referers.filter((r) => r.referer && new URL(r.referer).pathname !== '/')).toEqual([]); // the origin alone
  });

  // the same link again (copied, shared, replayed): nobody is logged in
  await withBrowser(MINI_WEBVIEW, async (browser) => {
    const page = await browser.context.newPage();
    await page.goto(url);
    await page.getByText('登录票据无效或已过期，请返回小程序重新打开', { exact: true }).waitFor({ timeout: 15_000 });
    expect(page.url()).toContain('/uni_modules/wlu-wxlogin/pages/login/index');
  });
});
