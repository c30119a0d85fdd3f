// @vitest-environment node
// The H5 build in a real browser: there is no uni.login, so the login page must not crash and
// must hand over to the website QR login; a page that needs a session sends people to it.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CHROMIUM, launchBrowser } from './support/browser';
import { ensureBuild } from './support/build';
import { serveStatic } from './support/static-server';

let site: Awaited<ReturnType<typeof serveStatic>>;
let browser: Awaited<ReturnType<typeof launchBrowser>>;

if (!CHROMIUM) console.warn('h5-login.test.ts skipped: no Chromium (apt-get install chromium, or set CHROMIUM_PATH)');

beforeAll(async () => {
  if (!CHROMIUM) return;
  site = await serveStatic(await ensureBuild('h5'));
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await site?.close();
});

it.skipIf(!CHROMIUM)('Should offer 微信扫码登录 on H5 without crashing and hand over to the web login', async () => {
  const page = await browser.context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  let webLogin = '';
  await page.route('**/api/auth/web/qr**', (route) => {
    webLogin = route.request().url();
    return route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: '<title>web login</title>网站扫码登录' });
  });

  await page.goto(`${site.url}/pages/login/index`);
  const button = page.getByText('微信扫码登录', { exact: true });
  await button.waitFor({ timeout: 15_000 });
  await expect(page.getByText('在浏览器中无法使用小程序登录', { exact: false }).count()).resolves.toBe(1);
  await expect(page.locator('text=微信登录').count()).resolves.toBe(0); // no mini-program button on H5

  await button.click();
  await page.waitForURL('**/api/auth/web/qr**', { timeout: 10_000 });
  expect(new URL(webLogin).pathname).toBe('/api/auth/web/qr');
  expect(new URL(webLogin).searchParams.get('next')).toBe('/pages/account/index');
  expect(errors).toEqual([]);
  await page.close();
});

it.skipIf(!CHROMIUM)('Should send an H5 visitor without a session from the account page to the login page', async () => {
  const page = await browser.context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(`${site.url}/pages/account/index`);
  // reLaunch to the login page (history router: WeChat's OAuth redirects append ?code=&state= to the path, which a hash router would lose)
  await page.getByText('微信扫码登录', { exact: true }).waitFor({ timeout: 15_000 });
  expect(new URL(page.url()).pathname).not.toContain('account');
  expect(new URL(page.url()).hash).toBe('');
  await expect(page.getByText('退出登录').count()).resolves.toBe(0);
  expect(errors).toEqual([]);
  await page.close();
});
