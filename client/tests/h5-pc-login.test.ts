// @vitest-environment node
// PC login in headless Chromium (issue 13) with the app and WeChat on DIFFERENT sites: app.test
// (the H5 build + /api) and wx.test (the simulator), both mapped to 127.0.0.1 by
// --host-resolver-rules, so iframe, SameSite and postMessage rules are Chromium's own.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, digitsOn, launchBrowser, reachPicks, TWO_SITES, WECHAT_UA, type Browser } from './support/browser';
import { ensureBuild, ROOT } from './support/build';
import { startStackProcess, type StackHandle } from './support/stack-process';
import { serveStatic } from './support/static-server';

const RESOLVE = TWO_SITES;
const SHOTS = join(ROOT, 'docs/screenshots');
const shoot = process.env.SCREENSHOTS === '1';

let stack: StackHandle;
let site: Awaited<ReturnType<typeof serveStatic>>;
let app: string;
let pc: Browser;
let phoneBrowser: Browser;

if (!CHROMIUM) console.warn('h5-pc-login.test.ts skipped: no Chromium');

async function startSite(env: Record<string, string> = {}) {
  const [dir, started] = await Promise.all([ensureBuild('h5'), startStackProcess({ domains: ['app.test', '127.0.0.1', 'localhost'], simPublicHost: 'wx.test', env })]);
  const served = await serveStatic(dir, started.apiUrl);
  return { stack: started, site: served, app: served.url.replace('127.0.0.1', 'app.test') };
}

beforeAll(async () => {
  if (!CHROMIUM) return;
  ({ stack, site, app } = await startSite());
  pc = await launchBrowser({ viewport: { width: 1366, height: 800 }, args: RESOLVE });
  phoneBrowser = await launchBrowser({ userAgent: WECHAT_UA, args: RESOLVE });
  if (shoot) mkdirSync(SHOTS, { recursive: true });
}, 120_000);
afterAll(async () => {
  await pc?.close();
  await phoneBrowser?.close();
  await site?.close();
  await stack?.close();
});

async function control(action: 'scan' | 'confirm' | 'cancel', body: Record<string, unknown>): Promise<void> {
  const res = await fetch(`${stack.simUrl}/__sim/web/${action}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect(res.status, await res.clone().text()).toBe(200);
}

/** PC: the login page with our own QR code; returns the page and the QR's URL (read from the API's answer). */
async function openOwnQr(browser: Browser, base = app, block?: string) {
  const page = await browser.context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  if (block) await page.route(block, (route) => route.abort('blockedbyclient'));
  const attempt = page.waitForResponse((r) => r.url().endsWith('/api/auth/pc/attempt'));
  await page.goto(`${base}/uni_modules/wlu-wxlogin/pages/login/index?pc_login=own-qr`);
  const { scanUrl } = (await (await attempt).json()) as { scanUrl: string };
  await page.getByText('等待扫码', { exact: true }).waitFor({ timeout: 15_000 });
  return { page, scanUrl, errors };
}

/** Phone (WeChat's in-app browser): opens the QR's URL as `user`, consenting once if asked, up to the confirmation page. */
async function phoneScan(scanUrl: string, user: string) {
  const page = await phoneBrowser.context.newPage();
  await phoneBrowser.context.addCookies([{ name: 'sim_user', value: user, url: `http://wx.test:${new URL(stack.simUrl).port}` }]);
  await page.goto(scanUrl);
  await reachPicks(page);
  return page;
}

describe.skipIf(!CHROMIUM)('own QR code confirmed on the phone', () => {
  it('Should log the PC in after 确认 on the phone: 等待扫码 → 已扫码 → 登录成功', async () => {
    const { page, scanUrl, errors } = await openOwnQr(pc);
    expect(new URL(scanUrl).host).toBe(new URL(app).host);
    const card = page.locator('.pc-card');
    const box = await card.boundingBox();
    // a centred card, not a stretched phone page
    expect(box!.width).toBeLessThan(500);
    expect(Math.abs(box!.x + box!.width / 2 - 683)).toBeLessThan(20);
    await expect(page.locator('.pc-qr img, img.pc-qr, .pc-qr').first().isVisible()).resolves.toBe(true);
    if (shoot) await page.screenshot({ path: join(SHOTS, 'pc-own-qr-1366x800.png') });

    const phone = await phoneScan(scanUrl, 'pc-e2e-alice');
    await expect(phone.locator('#title').textContent()).resolves.toBe('确认在电脑上登录？');
    await expect(phone.locator('#browser').textContent()).resolves.toMatch(/^Chrome \d+$/);
    await page.getByText('已扫码，请在手机上确认').first().waitFor({ timeout: 5_000 });
    if (shoot) await phone.screenshot({ path: join(SHOTS, 'phone-confirm-390x844.png') });

    // 确认 like a person: read the two digits on the PC, tap them on the phone
    await phone.getByRole('button', { name: await digitsOn(page), exact: true }).click();
    await phone.getByText('已确认，请回到电脑上继续').waitFor();
    // the PC says whose account it is now logged in to, with 不是你？, before it moves on
    await page.locator('.pc-account-name').getByText('pc-e2e-alice').waitFor({ timeout: 10_000 });
    await page.getByText('不是你？退出登录').waitFor();
    await page.waitForURL(`${app}/pages/account/index`, { timeout: 15_000 });
    await page.getByText('pc-e2e-alice').first().waitFor({ timeout: 10_000 });
    expect(await page.evaluate(() => localStorage.getItem('auth.session'))).toMatch(/[a-z2-7]{32}/);
    expect(errors).toEqual([]);
    await page.evaluate(() => localStorage.clear());
    await Promise.all([page.close(), phone.close()]);
  });

  it('Should show 已取消 after 取消 on the phone, and log nobody in from a QR code scanned but never confirmed', async () => {
    const { page, scanUrl } = await openOwnQr(pc);
    const phone = await phoneScan(scanUrl, 'pc-e2e-victim');
    await page.getByText('已扫码，请在手机上确认').first().waitFor({ timeout: 5_000 });
    // nobody confirms for a while: nothing happens on the PC
    await page.waitForTimeout(1500);
    expect(await page.evaluate(() => localStorage.getItem('auth.session'))).toBeNull();
    await phone.click('#cancel');
    await page.getByText('已取消', { exact: true }).waitFor({ timeout: 5_000 });
    await page.getByText('刷新二维码').waitFor();
    expect(await page.evaluate(() => localStorage.getItem('auth.session'))).toBeNull();
    // 刷新二维码: a new attempt, waiting again
    const next = page.waitForResponse((r) => r.url().endsWith('/api/auth/pc/attempt'));
    await page.getByText('刷新二维码').click();
    await next;
    await page.getByText('等待扫码', { exact: true }).waitFor({ timeout: 5_000 });
    await Promise.all([page.close(), phone.close()]);
  });

  it('Should log the PC out again at once with 不是你？ (the account shown is not the person at the PC)', async () => {
    const { page, scanUrl } = await openOwnQr(pc);
    const phone = await phoneScan(scanUrl, 'pc-e2e-someone-else');
    await phone.getByRole('button', { name: await digitsOn(page), exact: true }).click();
    await page.locator('.pc-account-name').getByText('pc-e2e-someone-else').waitFor({ timeout: 10_000 });
    const token = JSON.parse((await page.evaluate(() => localStorage.getItem('auth.session')))!).token as string;
    const next = page.waitForResponse((r) => r.url().endsWith('/api/auth/pc/attempt'));
    await page.getByText('不是你？退出登录').click();
    await next;
    // logged out here and on the server; a new QR code instead of the account page
    await page.getByText('等待扫码', { exact: true }).waitFor({ timeout: 5_000 });
    expect(await page.evaluate(() => localStorage.getItem('auth.session'))).toBeNull();
    expect((await fetch(`${stack.apiUrl}/api/auth/me`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(401);
    await page.waitForTimeout(3500);
    expect(page.url()).toContain('/uni_modules/wlu-wxlogin/pages/login/index');
    await Promise.all([page.close(), phone.close()]);
  });

  it('Should cancel the attempt when the phone picks digits the PC does not show (a relayed QR code tapped blind)', async () => {
    const { page, scanUrl } = await openOwnQr(pc);
    const phone = await phoneScan(scanUrl, 'pc-e2e-blind');
    await expect(phone.locator('#relay-warning').textContent()).resolves.toBe('如果不是你本人正在电脑前操作，或者有人把这个链接/二维码发给你，请点「取消」');
    const digits = await digitsOn(page);
    const choices = await phone.locator('button.pick').allTextContents();
    expect(choices).toHaveLength(3);
    expect(choices).toContain(digits);
    await phone.getByRole('button', { name: choices.find((c) => c !== digits)!, exact: true }).click();
    await phone.getByText('数字与电脑上显示的不一致，已取消此次登录', { exact: false }).waitFor();
    await page.getByText('已取消', { exact: true }).waitFor({ timeout: 5_000 });
    expect(await page.evaluate(() => localStorage.getItem('auth.session'))).toBeNull();
    await Promise.all([page.close(), phone.close()]);
  });

  it('Should still finish when Server-Sent Events are blocked (long-poll fallback)', async () => {
    const { page, scanUrl } = await openOwnQr(pc, app, '**/api/auth/pc/events');
    const polls: string[] = [];
    page.on('request', (r) => r.url().includes('/api/auth/pc/status') && polls.push(r.url()));
    const phone = await phoneScan(scanUrl, 'pc-e2e-nosse');
    await page.getByText('已扫码，请在手机上确认').first().waitFor({ timeout: 10_000 });
    // 确认 like a person: read the two digits on the PC, tap them on the phone
    await phone.getByRole('button', { name: await digitsOn(page), exact: true }).click();
    await page.waitForURL(`${app}/pages/account/index`, { timeout: 15_000 });
    expect(polls.some((u) => u.includes('wait=1'))).toBe(true);
    await page.evaluate(() => localStorage.clear());
    await Promise.all([page.close(), phone.close()]);
  });

  it('Should still finish after a reconnect of the event stream is refused with 429 (issue 18 §5)', { timeout: 60_000 }, async () => {
    // The first stream is served; every reconnect is answered 429 like the API's limits do.
    // Chromium's EventSource then closes for good: the page must go on with status requests.
    const page = await pc.context.newPage();
    const streams: number[] = [];
    await page.route('**/api/auth/pc/events', async (route) => {
      streams.push(Date.now());
      if (streams.length === 1) return route.continue();
      return route.fulfill({ status: 429, headers: { 'retry-after': '1', 'content-type': 'application/json' }, body: JSON.stringify({ error: { code: 'too_many_requests', message: '操作过于频繁，请稍后再试' } }) });
    });
    const polls: string[] = [];
    page.on('request', (r) => r.url().includes('/api/auth/pc/status') && polls.push(r.url()));
    const attempt = page.waitForResponse((r) => r.url().endsWith('/api/auth/pc/attempt'));
    await page.goto(`${app}/uni_modules/wlu-wxlogin/pages/login/index?pc_login=own-qr`);
    const { scanUrl } = (await (await attempt).json()) as { scanUrl: string };
    await page.getByText('等待扫码', { exact: true }).waitFor({ timeout: 15_000 });
    // the first stream ends (PC_EVENTS_STREAM_MS) and the browser's reconnect is refused
    await expect.poll(() => streams.length, { timeout: 20_000 }).toBeGreaterThanOrEqual(2);
    await page.waitForTimeout(500);
    const phone = await phoneScan(scanUrl, 'pc-e2e-refused');
    await page.getByText('已扫码，请在手机上确认').first().waitFor({ timeout: 15_000 });
    await phone.getByRole('button', { name: await digitsOn(page), exact: true }).click();
    await page.waitForURL(`${app}/pages/account/index`, { timeout: 15_000 });
    expect(polls.length).toBeGreaterThan(0);
    expect(streams).toHaveLength(2); // no hammering of the refused stream
    await page.evaluate(() => localStorage.clear());
    await Promise.all([page.close(), phone.close()]);
  });

  it('Should show 二维码已过期 with 刷新二维码 when the QR code expires', async () => {
    const short = await startSite({ PC_ATTEMPT_TTL_MS: '3000' });
    try {
      const { page } = await openOwnQr(pc, short.app);
      await page.getByText('二维码已过期', { exact: true }).waitFor({ timeout: 10_000 });
      if (shoot) await page.screenshot({ path: join(SHOTS, 'pc-own-qr-expired-1366x800.png') });
      const next = page.waitForResponse((r) => r.url().endsWith('/api/auth/pc/attempt'));
      await page.getByText('刷新二维码').click();
      expect((await next).status()).toBe(200);
      await page.getByText('等待扫码', { exact: true }).waitFor({ timeout: 5_000 });
      await page.close();
    } finally {
      await short.site.close();
      await short.stack.close();
    }
  });
});

describe.skipIf(!CHROMIUM)("WeChat's QR inside our page (WxLogin)", () => {
  async function openEmbedded(form: 'embedded' | 'embedded-top') {
    const page = await pc.context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${app}/uni_modules/wlu-wxlogin/pages/login/index?pc_login=${form}`);
    const frame = page.frameLocator('#wx-login-box iframe');
    await frame.getByText('请使用微信扫一扫登录').waitFor({ timeout: 15_000 });
    const src = await page.locator('#wx-login-box iframe').getAttribute('src');
    expect(new URL(src!).host).toBe(`wx.test:${new URL(stack.simUrl).port}`);
    const uuid = await frame.locator('#qr').getAttribute('data-uuid');
    return { page, frame, uuid: uuid!, src: src!, errors };
  }

  it('Should log in with self_redirect true: the callback runs in the cross-site iframe and the top window collects', async () => {
    const { page, frame, uuid, src, errors } = await openEmbedded('embedded');
    expect(new URL(src).searchParams.get('self_redirect')).toBe('true');
    if (shoot) await page.screenshot({ path: join(SHOTS, 'pc-embedded-1366x800.png') });
    await control('scan', { uuid, user: 'pc-e2e-frame' });
    await frame.getByText('扫描成功，请在微信中点击确认即可登录').waitFor({ timeout: 5_000 });
    const callback = page.waitForRequest((r) => r.url().includes('/api/auth/web/callback'));
    await control('confirm', { uuid });
    const request = await callback;
    expect(request.frame() === page.mainFrame()).toBe(false); // inside the iframe
    await page.waitForURL(`${app}/pages/account/index`, { timeout: 15_000 });
    await page.getByText('pc-e2e-frame').first().waitFor({ timeout: 10_000 });
    // no token or code ever in the top window's URL
    expect(page.url()).not.toMatch(/code=|token=|state=/);
    expect(errors).toEqual([]);

    // the same callback URL in a second browser context: nothing
    const other = await phoneBrowser.context.newPage();
    await other.goto(request.url());
    await other.waitForTimeout(1500);
    expect(await other.evaluate(() => localStorage.getItem('auth.session'))).toBeNull();
    await page.evaluate(() => localStorage.clear());
    await Promise.all([page.close(), other.close()]);
  });

  it('Should log in with self_redirect false: the top window goes to the callback', async () => {
    const { page, uuid, src, errors } = await openEmbedded('embedded-top');
    expect(new URL(src).searchParams.get('self_redirect')).toBe('false');
    await control('scan', { uuid, user: 'pc-e2e-top' });
    const callback = page.waitForRequest((r) => r.url().includes('/api/auth/web/callback'));
    await control('confirm', { uuid });
    expect((await callback).frame() === page.mainFrame()).toBe(true);
    await page.waitForURL(`${app}/pages/account/index`, { timeout: 15_000 });
    await page.getByText('pc-e2e-top').first().waitFor({ timeout: 10_000 });
    expect(errors).toEqual([]);
    await page.evaluate(() => localStorage.clear());
    await page.close();
  });

  it('Should show one clear button (redirect form) on a PC and keep the phone page for phones', async () => {
    const page = await pc.context.newPage();
    await page.goto(`${app}/uni_modules/wlu-wxlogin/pages/login/index?pc_login=redirect`);
    const button = page.locator('.pc-login-btn');
    await button.waitFor({ timeout: 15_000 });
    const box = await button.boundingBox();
    expect(box!.width).toBeLessThan(400);
    if (shoot) await page.screenshot({ path: join(SHOTS, 'pc-redirect-1366x800.png') });
    await page.close();
    const phone = await phoneBrowser.context.newPage();
    await phone.goto(`${app}/uni_modules/wlu-wxlogin/pages/login/index?pc_login=own-qr`);
    await phone.getByText('微信授权登录', { exact: true }).first().waitFor({ timeout: 15_000 });
    expect(await phone.locator('.pc-card').count()).toBe(0);
    await phone.close();
  });
});
