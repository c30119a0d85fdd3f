// @vitest-environment node
// The H5 release build in Chromium as WeChat's in-app browser (MicroMessenger User-Agent) against a
// real API + WeChat simulator: 微信授权登录 → the simulator's consent page → 允许 → logged in.
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

it.skipIf(!CHROMIUM)('Should log in inside WeChat with 微信授权登录: consent page, 允许, back logged in', async () => {
  // The simulated person "in" the WeChat client (the simulator's sim_user cookie).
  await browser.context.addCookies([{ name: 'sim_user', value: 'h5-oa-user', url: stack.simUrl }]);
  const page = await browser.context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));

  await page.goto(`${site.url}/pages/login/index`);
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
  expect(page.url()).not.toMatch(/code=|token=|oa_login=/);
  const cookies = await browser.context.cookies(site.url + '/api/auth/oa/session');
  expect(cookies.find((c) => c.name === 'wx_oa_state')).toBeUndefined();
  expect(errors).toEqual([]);
  await page.close();
});

it.skipIf(!CHROMIUM)('Should say 你已取消微信授权 when the consent was refused', async () => {
  const page = await browser.context.newPage();
  await page.goto(`${site.url}/pages/login/index?oa_login_error=oa_login_denied`);
  await page.getByText('你已取消微信授权').waitFor({ timeout: 15_000 });
  await expect(page.getByText('微信授权登录', { exact: true }).count()).resolves.toBe(1);
  await page.close();
});
