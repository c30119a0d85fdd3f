// @vitest-environment node
// The H5 release build in Chromium as WeChat's in-app browser (MicroMessenger User-Agent) against a
// real API + WeChat simulator: silent snsapi_base first; a new person taps 微信授权登录 → the
// simulator's consent page → 允许 → logged in; a known person is logged in without a tap; a
// snapshot-page person is told to open the full page. No #wechat_redirect left in the address bar.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CHROMIUM, launchBrowser } from './support/browser';
import { ensureBuild } from './support/build';
import { startStackProcess, type StackHandle } from './support/stack-process';
import { serveStatic } from './support/static-server';

const WECHAT_UA =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.50(0x1800323c) NetType/WIFI Language/zh_CN';

let stack: StackHandle;
let site: Awaited<ReturnType<typeof serveStatic>>;
let browser: Awaited<ReturnType<typeof launchBrowser>>;

if (!CHROMIUM) console.warn('h5-oa-login.test.ts skipped: no Chromium (apt-get install chromium, or set CHROMIUM_PATH)');

beforeAll(async () => {
  if (!CHROMIUM) return;
  const [dir, started] = await Promise.all([ensureBuild('h5'), startStackProcess()]);
  stack = started;
  site = await serveStatic(dir, stack.apiUrl);
  browser = await launchBrowser({ userAgent: WECHAT_UA });
});
afterAll(async () => {
  await browser?.close();
  await site?.close();
  await stack?.close();
});

it.skipIf(!CHROMIUM)('Should try snsapi_base silently, then ask a new person to tap 微信授权登录 (snsapi_userinfo), 允许, logged in', async () => {
  // The simulated person "in" the WeChat client (the simulator's sim_user cookie).
  await browser.context.addCookies([{ name: 'sim_user', value: 'h5-oa-user', url: stack.simUrl }]);
  const page = await browser.context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  const seen: string[] = [];
  page.on('request', (request) => request.isNavigationRequest() && seen.push(request.url()));

  await page.goto(`${site.url}/uni_modules/wlu-wxlogin/pages/login/index`);
  // The silent attempt: snsapi_base, no consent page; the server does not know this openid yet.
  await page.getByText('首次使用请点击「微信授权登录」，允许获取昵称、头像').waitFor({ timeout: 15_000 });
  const silent = seen.map((u) => new URL(u)).find((u) => u.pathname === '/connect/oauth2/authorize');
  expect(silent?.searchParams.get('scope')).toBe('snsapi_base');
  // wechat-api-facts.md §5: #wechat_redirect is required on the authorize URL (tests/oa-login.test.ts),
  // but must not ride along the redirects into the H5 page's address bar.
  expect(page.url()).toContain('oa_login_error=oa_login_consent_required');
  expect(page.url()).not.toContain('wechat_redirect');
  await expect(page.getByText('微信扫码登录', { exact: true }).count()).resolves.toBe(0);

  await page.getByText('微信授权登录', { exact: true }).click();
  await page.getByText('同意并登录', { exact: true }).click(); // the agreement is unticked by default
  // The simulator's open.weixin.qq.com/connect/oauth2/authorize consent page
  await page.waitForURL(`${stack.simUrl}/connect/oauth2/authorize**`, { timeout: 15_000 });
  const authorize = new URL(page.url());
  expect(authorize.searchParams.get('appid')).toBe(stack.oaAppid);
  expect(authorize.searchParams.get('scope')).toBe('snsapi_userinfo');
  expect(authorize.searchParams.get('redirect_uri')).toBe(`${site.url}/api/auth/oa/callback`);
  await page.getByText('允许', { exact: true }).click();

  await page.waitForURL(`${site.url}/pages/account/index`, { timeout: 15_000 });
  await page.getByText('退出登录').waitFor({ timeout: 10_000 });
  await page.getByText('h5-oa-user').first().waitFor(); // nickname from sns/userinfo
  expect(page.url()).not.toMatch(/code=|token=|oa_login=|wechat_redirect/);
  const cookies = await browser.context.cookies(site.url + '/api/auth/oa/session');
  expect(cookies.find((c) => c.name === 'wx_oa_state')).toBeUndefined();
  expect(errors).toEqual([]);
  await page.close();
});

it.skipIf(!CHROMIUM)('Should log a known person in silently (snsapi_base): no consent page, no tap', async () => {
  // A fresh browser (no stored session), the same WeChat person as above.
  const fresh = await launchBrowser({ userAgent: WECHAT_UA });
  try {
    await fresh.context.addCookies([{ name: 'sim_user', value: 'h5-oa-user', url: stack.simUrl }]);
    const page = await fresh.context.newPage();
    const seen: string[] = [];
    page.on('request', (request) => request.isNavigationRequest() && seen.push(request.url()));
    await page.goto(`${site.url}/uni_modules/wlu-wxlogin/pages/login/index`);
    await page.waitForURL(`${site.url}/pages/account/index`, { timeout: 15_000 });
    await page.getByText('h5-oa-user').first().waitFor({ timeout: 10_000 });
    const scopes = seen.map((u) => new URL(u)).filter((u) => u.pathname === '/connect/oauth2/authorize').map((u) => u.searchParams.get('scope'));
    expect(scopes).toEqual(['snsapi_base']);
    expect(seen.some((u) => u.includes('/__sim/oa/consent'))).toBe(false);
  } finally {
    await fresh.close();
  }
});

it.skipIf(!CHROMIUM)('Should ask a person on WeChat\'s snapshot page to open the full page (使用完整服务)', async () => {
  await fetch(`${stack.simUrl}/__sim/users/profile`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'h5-snap', snapshot: true }) });
  const fresh = await launchBrowser({ userAgent: WECHAT_UA });
  try {
    await fresh.context.addCookies([{ name: 'sim_user', value: 'h5-snap', url: stack.simUrl }]);
    const page = await fresh.context.newPage();
    await page.goto(`${site.url}/uni_modules/wlu-wxlogin/pages/login/index`);
    await page.getByText('当前为快照页，请点击页面底部的「使用完整服务」后再登录').waitFor({ timeout: 15_000 });
    expect(page.url()).not.toContain('wechat_redirect');
  } finally {
    await fresh.close();
  }
});

it.skipIf(!CHROMIUM)('Should say 你已取消微信授权 when the consent was refused', async () => {
  const page = await browser.context.newPage();
  await page.goto(`${site.url}/uni_modules/wlu-wxlogin/pages/login/index?oa_login_error=oa_login_denied`);
  await page.getByText('你已取消微信授权').waitFor({ timeout: 15_000 });
  await expect(page.getByText('微信授权登录', { exact: true }).count()).resolves.toBe(1);
  await page.close();
});
