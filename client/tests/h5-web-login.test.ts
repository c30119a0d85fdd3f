// @vitest-environment node
// The H5 release build in Chromium against a real API + WeChat simulator: 微信扫码登录 → the
// simulator's QR page → the test plays the phone → the browser comes back logged in.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CHROMIUM, launchBrowser } from './support/browser';
import { ensureBuild } from './support/build';
import { startStackProcess, type StackHandle } from './support/stack-process';
import { serveStatic } from './support/static-server';

let stack: StackHandle;
let site: Awaited<ReturnType<typeof serveStatic>>;
let browser: Awaited<ReturnType<typeof launchBrowser>>;

if (!CHROMIUM) console.warn('h5-web-login.test.ts skipped: no Chromium (apt-get install chromium, or set CHROMIUM_PATH)');

beforeAll(async () => {
  if (!CHROMIUM) return;
  const [dir, started] = await Promise.all([ensureBuild('h5'), startStackProcess()]);
  stack = started;
  // Served like Vercel: the H5 files and /api on one origin (the state cookie lives there).
  site = await serveStatic(dir, stack.apiUrl);
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await site?.close();
  await stack?.close();
});

async function control(action: 'scan' | 'confirm', body: Record<string, unknown>): Promise<void> {
  const res = await fetch(`${stack.simUrl}/__sim/web/${action}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect(res.status, await res.clone().text()).toBe(200);
}

it.skipIf(!CHROMIUM)('Should log in on H5 with 微信扫码登录: QR page, scan and confirm on the phone, back logged in', async () => {
  const page = await browser.context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  const seen: string[] = [];
  page.on('request', (request) => request.isNavigationRequest() && seen.push(request.url()));

  await page.goto(`${site.url}/uni_modules/wlu-wxlogin/pages/login/index`);
  await page.getByText('微信扫码登录', { exact: true }).click();
  await page.getByText('同意并登录', { exact: true }).click(); // the agreement is unticked by default

  // The simulator's open.weixin.qq.com page with the QR code
  await page.waitForURL(`${stack.simUrl}/connect/qrconnect**`, { timeout: 15_000 });
  const authorize = new URL(page.url());
  expect(authorize.searchParams.get('appid')).toBe(stack.webAppid);
  expect(authorize.searchParams.get('redirect_uri')).toBe(`${site.url}/api/auth/web/callback`);
  await page.getByText('请使用微信扫描二维码登录').waitFor();
  const uuid = await page.locator('#qr').getAttribute('data-uuid');
  expect(uuid).toMatch(/^[0-9a-f]+$/);

  // The phone scans: the page notices within its ~1 s poll
  await control('scan', { uuid, user: 'h5-web-user' });
  await page.getByText('已扫码，请在手机上确认').waitFor({ timeout: 5_000 });

  // The phone confirms: WeChat → our callback → the H5 login page → the account page
  await control('confirm', { uuid });
  await page.waitForURL(`${site.url}/pages/account/index`, { timeout: 15_000 });
  await page.getByText('退出登录').waitFor({ timeout: 10_000 });
  await page.getByText('h5-web-user').first().waitFor(); // nickname from sns/userinfo

  const stored = await page.evaluate(() => localStorage.getItem('auth.session'));
  expect(stored).toMatch(/[a-z2-7]{32}/);
  // no token or WeChat code in the address bar; the state cookie is gone after the handoff
  expect(page.url()).not.toMatch(/code=|token=|web_login=/);
  const cookies = await browser.context.cookies(site.url + '/api/auth/web/session');
  expect(cookies.find((c) => c.name === 'wx_web_state')).toBeUndefined();

  // The used QR login's return URL again (back button, a reload, a bookmark) while logged in: the
  // person just continues — never 登录已过期 (issue 9 item 8).
  const handoff = seen.find((u) => u.includes('web_login='));
  expect(handoff).toBeTruthy();
  await page.goto(handoff!);
  await page.waitForURL(`${site.url}/pages/account/index`, { timeout: 15_000 });
  await expect(page.getByText('登录已过期，请重新扫码').count()).resolves.toBe(0);
  expect(errors).toEqual([]);
  await page.close();
});

it.skipIf(!CHROMIUM)('Should explain a failed or stale web login in Chinese on the login page', async () => {
  const page = await browser.context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));

  await page.goto(`${site.url}/uni_modules/wlu-wxlogin/pages/login/index?web_login_error=wechat_unavailable`);
  await page.getByText('微信服务暂时不可用，请稍后再试').waitFor({ timeout: 15_000 });

  await page.goto(`${site.url}/uni_modules/wlu-wxlogin/pages/login/index?web_login_error=web_login_state_used`);
  await page.getByText('登录已过期，请重新扫码').waitFor({ timeout: 15_000 });

  // a handoff that does not exist for this browser (no cookie): the POST fails cleanly. Logged out
  // first — a logged-in browser just continues (see the test above).
  await page.evaluate(() => localStorage.clear());
  await page.goto(`${site.url}/uni_modules/wlu-wxlogin/pages/login/index?web_login=${'A'.repeat(32)}`);
  await page.getByText('登录已过期，请重新扫码').waitFor({ timeout: 15_000 });
  expect(new URL(page.url()).pathname).toBe('/uni_modules/wlu-wxlogin/pages/login/index');
  await expect(page.getByText('微信扫码登录', { exact: true }).count()).resolves.toBe(1);
  expect(errors).toEqual([]);
  await page.close();
});
