// @vitest-environment node
// The H5 build in a real browser: there is no uni.login, so the login page must not crash and
// must hand over to the website QR login once the person agreed to 用户协议 / 隐私政策; pages work
// logged out (no login wall) and offer 登录; /favicon.ico is served.
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

  await page.goto(`${site.url}/uni_modules/wlu-wxlogin/pages/login/index`);
  const button = page.getByText('微信扫码登录', { exact: true });
  await button.waitFor({ timeout: 15_000 });
  await expect(page.getByText('请使用微信扫码登录', { exact: false }).count()).resolves.toBe(1);
  await expect(page.getByText('uni.login', { exact: false }).count()).resolves.toBe(0); // no developer jargon for people
  await expect(page.locator('text=微信登录').count()).resolves.toBe(0); // no mini-program button on H5

  // unticked agreement: the click asks to agree first, and nothing leaves the page
  await button.click();
  await page.getByText('同意并登录', { exact: true }).waitFor({ timeout: 5_000 });
  expect(webLogin).toBe('');
  await page.getByText('同意并登录', { exact: true }).click();
  await page.waitForURL('**/api/auth/web/qr**', { timeout: 10_000 });
  expect(new URL(webLogin).pathname).toBe('/api/auth/web/qr');
  expect(new URL(webLogin).searchParams.get('next')).toBe('/pages/account/index');
  expect(errors).toEqual([]);
  await page.close();
});

it.skipIf(!CHROMIUM)('Should open on the home page without login and offer 登录 from 我的', async () => {
  const page = await browser.context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(`${site.url}/`);
  await page.getByText('欢迎，你可以先随便看看').waitFor({ timeout: 15_000 });
  await page.goto(`${site.url}/pages/account/index`);
  await page.getByText('未登录').waitFor({ timeout: 15_000 });
  await expect(page.getByText('退出登录').count()).resolves.toBe(0);
  await page.locator('.login-entry').click();
  // the login page (history router: WeChat's OAuth redirects append ?code=&state= to the path, which a hash router would lose)
  await page.getByText('微信扫码登录', { exact: true }).waitFor({ timeout: 15_000 });
  expect(new URL(page.url()).pathname).toBe('/uni_modules/wlu-wxlogin/pages/login/index');
  expect(new URL(page.url()).hash).toBe('');
  await page.getByText('暂不登录', { exact: true }).click();
  await page.getByText('未登录').waitFor({ timeout: 15_000 });
  expect(errors).toEqual([]);
  await page.close();
});

it.skipIf(!CHROMIUM)('Should serve /favicon.ico (no 404 in the browser console)', async () => {
  const res = await fetch(`${site.url}/favicon.ico`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type') ?? '').toMatch(/image/);
  expect((await res.arrayBuffer()).byteLength).toBeGreaterThan(0);
});
