// @vitest-environment node
// Issue 18 item 8, what a newcomer tripped over, in headless Chromium on the H5 release build with
// the app (app.test) and WeChat (wx.test) on different sites: the texts a person reads on the PC
// card, on the phone and inside WeChat, and 我的账号 / 完善资料 on a 1366 px desktop.
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, launchBrowser, TWO_SITES, WECHAT_UA, type Browser } from './support/browser';
import { ensureBuild, ROOT } from './support/build';
import { startStackProcess, type StackHandle } from './support/stack-process';
import { serveStatic } from './support/static-server';

const IPHONE_SAFARI = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1';
/** where the screenshots go (SCREENSHOTS=1: docs/screenshots, else a folder beside the build) */
const SHOTS = process.env.SCREENSHOTS === '1' ? join(ROOT, 'docs/screenshots') : join(ROOT, 'dist/test/screenshots');

let stack: StackHandle;
let site: Awaited<ReturnType<typeof serveStatic>>;
let app: string;
let pc: Browser;
let phone: Browser;
let h5Dir: string;

if (!CHROMIUM) console.warn('h5-newcomer.test.ts skipped: no Chromium');

beforeAll(async () => {
  if (!CHROMIUM) return;
  const [dir, started] = await Promise.all([ensureBuild('h5'), startStackProcess({ domains: ['app.test', '127.0.0.1', 'localhost'], simPublicHost: 'wx.test' })]);
  stack = started;
  h5Dir = dir;
  site = await serveStatic(dir, stack.apiUrl);
  app = site.url.replace('127.0.0.1', 'app.test');
  pc = await launchBrowser({ viewport: { width: 1366, height: 800 }, args: TWO_SITES });
  phone = await launchBrowser({ userAgent: WECHAT_UA, args: TWO_SITES });
  mkdirSync(SHOTS, { recursive: true });
}, 180_000);
afterAll(async () => {
  await pc?.close();
  await phone?.close();
  await site?.close();
  await stack?.close();
});

async function simUser(browser: Browser, user: string) {
  await browser.context.addCookies([{ name: 'sim_user', value: user, url: `http://wx.test:${new URL(stack.simUrl).port}` }]);
}

/** the text's colour as [r, g, b] */
async function rgb(locator: import('playwright-core').Locator): Promise<number[]> {
  const color = await locator.evaluate((el) => getComputedStyle(el).color);
  return (color.match(/\d+/g) ?? []).slice(0, 3).map(Number);
}
const looksRed = ([r = 0, g = 0, b = 0]: number[]) => r > 180 && g < 110 && b < 110;

describe.skipIf(!CHROMIUM)('texts a newcomer reads', () => {
  it('own QR: a new person is asked to authorize in words true whether or not they have an account; the PC says 已扫码 once', async () => {
    const page = await pc.context.newPage();
    const attempt = page.waitForResponse((r) => r.url().endsWith('/api/auth/pc/attempt'));
    await page.goto(`${app}/uni_modules/wlu-wxlogin/pages/login/index?pc_login=own-qr`);
    const { scanUrl } = (await (await attempt).json()) as { scanUrl: string };
    await page.getByText('等待扫码', { exact: true }).waitFor({ timeout: 15_000 });

    await simUser(phone, 'newcomer-first-pc');
    const mobile = await phone.context.newPage();
    await mobile.goto(scanUrl);
    await mobile.waitForSelector('#consent', { timeout: 15_000 });
    const consent = await mobile.locator('main').innerText();
    expect(consent).not.toContain('以创建账号'); // said to people who already have an account
    expect(consent).toContain('已有账号将登录原账号');
    expect(consent).toContain('没有账号将为你创建');
    await mobile.click('#consent');
    await mobile.click('#allow'); // WeChat's consent for snsapi_userinfo
    await mobile.waitForSelector('#picks', { timeout: 15_000 });

    await page.getByText('已扫码，请在手机上确认', { exact: true }).first().waitFor({ timeout: 15_000 });
    await expect(page.getByText('已扫码，请在手机上确认', { exact: true }).count()).resolves.toBe(1);
    await page.screenshot({ path: join(SHOTS, 'newcomer-pc-scanned.png') });
    await mobile.close();
    await page.close();
  });

  it('inside WeChat, the first-use hint is a neutral hint, not a red error', async () => {
    await simUser(phone, 'newcomer-first-wechat');
    const page = await phone.context.newPage();
    await page.goto(`${app}/uni_modules/wlu-wxlogin/pages/login/index`);
    const hint = page.getByText('首次使用请点击「微信授权登录」，允许获取昵称、头像', { exact: true });
    await hint.waitFor({ timeout: 15_000 });
    expect(looksRed(await rgb(hint))).toBe(false);
    await expect(page.locator('.status-error').count()).resolves.toBe(0);
    await page.screenshot({ path: join(SHOTS, 'newcomer-wechat-first-use.png') });
    await page.close();
  });

  it('a phone browser outside WeChat: no agreement checkbox, since the page has no login to agree to', async () => {
    const browser = await launchBrowser({ userAgent: IPHONE_SAFARI });
    try {
      const page = await browser.context.newPage();
      await page.goto(`${site.url}/uni_modules/wlu-wxlogin/pages/login/index`);
      await page.getByText('请在微信中打开', { exact: true }).waitFor({ timeout: 15_000 });
      await expect(page.getByText('我已阅读并同意').count()).resolves.toBe(0);
      await expect(page.locator('.agree-check').count()).resolves.toBe(0);
      // inside WeChat, where there is a login button, the agreement is still there
      const wechat = await phone.context.newPage();
      await wechat.goto(`${app}/uni_modules/wlu-wxlogin/pages/login/index`);
      await wechat.getByText('微信授权登录', { exact: true }).waitFor({ timeout: 15_000 });
      await expect(wechat.getByText('我已阅读并同意').count()).resolves.toBe(1);
      await wechat.close();
    } finally {
      await browser.close();
    }
  });
});

describe.skipIf(!CHROMIUM)('the development-only phone link (client/tests/h5-dev-phone-link.test.ts)', () => {
  it('is not in the release H5 bundle, nor is the simulator page it points at', () => {
    const files = (readdirSync(h5Dir, { recursive: true }) as string[]).filter((f) => /\.(js|html|css)$/.test(f));
    expect(files.length).toBeGreaterThan(3);
    for (const file of files) {
      const text = readFileSync(join(h5Dir, file), 'utf8');
      expect(text, file).not.toContain('在模拟器里用手机打开');
      expect(text, file).not.toContain('__sim');
      expect(text, file).not.toContain('dev-phone-link');
    }
  });
});

describe.skipIf(!CHROMIUM)('我的账号 and 完善资料 on a 1366 px desktop', () => {
  /** the page's box: bounded like a phone, centred like the login card */
  async function expectCard(page: import('playwright-core').Page, name: string) {
    const box = (await page.locator('.page').first().boundingBox())!;
    expect(box.width, `${name} width`).toBeLessThanOrEqual(480);
    expect(box.width, `${name} width`).toBeGreaterThanOrEqual(320);
    const left = box.x;
    const right = 1366 - (box.x + box.width);
    expect(Math.abs(left - right), `${name} centred`).toBeLessThan(24); // a scrollbar may take a few px
    await page.screenshot({ path: join(SHOTS, `newcomer-${name}-1366.png`) });
  }

  it('both pages are a centred card of a phone’s width, not stretched across the screen', async () => {
    const page = await pc.context.newPage();
    await page.goto(`${app}/pages/account/index`);
    await page.getByText('未登录', { exact: true }).waitFor({ timeout: 15_000 });
    await expectCard(page, 'account-guest');

    // log in with the website QR (redirect form): the phone scans and confirms through the simulator
    await page.goto(`${app}/uni_modules/wlu-wxlogin/pages/login/index`);
    await page.getByText('微信扫码登录', { exact: true }).click();
    await page.waitForURL('**/connect/qrconnect**', { timeout: 15_000 });
    const uuid = await page.locator('#qr').getAttribute('data-uuid');
    for (const [action, body] of [['scan', { uuid, user: 'newcomer-desktop' }], ['confirm', { uuid }]] as const) {
      const res = await fetch(`${stack.simUrl}/__sim/web/${action}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      expect(res.status, await res.text()).toBe(200);
    }
    await page.waitForURL(`${app}/pages/account/index`, { timeout: 15_000 });
    await page.getByText('退出登录', { exact: true }).waitFor({ timeout: 10_000 });
    await expectCard(page, 'account');

    await page.getByText('编辑头像和昵称', { exact: true }).click();
    await page.getByText('设置头像和昵称', { exact: true }).waitFor({ timeout: 10_000 });
    await expectCard(page, 'profile');
    await page.close();
  });
});
