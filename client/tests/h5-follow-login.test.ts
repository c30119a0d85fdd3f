// @vitest-environment node
// 关注公众号登录 in headless Chromium (issue 14 §2 on issue 13's attempt): the PC page with the
// follow form shows the official account's parametric QR; the simulated phone scans it (WeChat
// pushes subscribe to the API's server URL in safe mode, wechat-api-facts.md §7–§9), the PC shows
// 已扫码, the person opens the reply's link in WeChat's browser, taps 确认, and the PC is logged in.
// The app (app.test) and WeChat (wx.test) are different sites, mapped to 127.0.0.1.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, digitsOn, freePort, launchBrowser, reachPicks, TWO_SITES, WECHAT_UA, type Browser } from './support/browser';
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

if (!CHROMIUM) console.warn('h5-follow-login.test.ts skipped: no Chromium');

beforeAll(async () => {
  if (!CHROMIUM) return;
  const apiPort = await freePort();
  const [dir, started] = await Promise.all([
    ensureBuild('h5'),
    startStackProcess({
      domains: ['app.test', '127.0.0.1', 'localhost'],
      simPublicHost: 'wx.test',
      apiPort,
      // the reply's link (PUBLIC_BASE_URL + /api/auth/pc/scan) must reach this API
      env: {
        PUBLIC_BASE_URL: `http://127.0.0.1:${apiPort}`,
        WECHAT_OA_TOKEN: 'followE2e1',
        WECHAT_OA_ENCODING_AES_KEY: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG',
        WECHAT_OA_MESSAGE_MODE: 'safe',
      },
    }),
  ]);
  stack = started;
  site = await serveStatic(dir, stack.apiUrl);
  app = site.url.replace('127.0.0.1', 'app.test');
  pc = await launchBrowser({ viewport: { width: 1366, height: 800 }, args: RESOLVE });
  phoneBrowser = await launchBrowser({ userAgent: WECHAT_UA, args: RESOLVE });
}, 120_000);
afterAll(async () => {
  await pc?.close();
  await phoneBrowser?.close();
  await site?.close();
  await stack?.close();
});

describe.skipIf(!CHROMIUM)('关注公众号登录 (follow form)', () => {
  it('Should log the PC in: parametric QR → phone scans and follows → 已扫码 → reply link → 确认 → 登录成功', async () => {
    const page = await pc.context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    // the attempt calls no WeChat API; the card, once shown, asks for the official account's QR
    const created = page.waitForResponse((r) => r.url().endsWith('/api/auth/pc/attempt'));
    const shown = page.waitForResponse((r) => r.url().endsWith('/api/auth/pc/follow-qr'));
    await page.goto(`${app}/uni_modules/wlu-wxlogin/pages/login/index?pc_login=follow`);
    expect(((await (await created).json()) as { form: string; qr?: string })).toMatchObject({ form: 'follow' });
    const attempt = (await (await shown).json()) as { form: string; scanUrl: string; qrImageUrl: string };
    expect(attempt.form).toBe('follow');
    await page.getByText('关注公众号登录', { exact: true }).waitFor({ timeout: 15_000 });
    await page.getByText('请用微信扫码关注公众号，然后在手机上选择下方显示的数字', { exact: false }).waitFor();
    await page.getByText('等待扫码', { exact: true }).waitFor({ timeout: 15_000 });
    expect(await page.locator('.pc-qr').first().isVisible()).toBe(true);
    if (shoot) {
      mkdirSync(SHOTS, { recursive: true });
      await page.screenshot({ path: join(SHOTS, 'pc-follow-1366x800.png') });
    }

    // the phone scans the official account's QR: WeChat pushes subscribe to the API; the reply has the link
    const res = await fetch(`${stack.simUrl}/__sim/oa/scan`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'fl-e2e-rui', qr: attempt.scanUrl }) });
    const pushed = (await res.json()) as { event: string; delivered: boolean; links: string[] };
    expect(pushed).toMatchObject({ event: 'subscribe', delivered: true });
    expect(pushed.links).toHaveLength(1);
    await page.getByText('已扫码，请在手机上确认').first().waitFor({ timeout: 5_000 });
    // nobody has confirmed: nobody is logged in
    expect(await page.evaluate(() => localStorage.getItem('auth.session'))).toBeNull();

    // the person opens the link in WeChat's browser (the simulator's sim_user is who WeChat says is in)
    await phoneBrowser.context.addCookies([{ name: 'sim_user', value: 'fl-e2e-rui', url: `http://wx.test:${new URL(stack.simUrl).port}` }]);
    const phone = await phoneBrowser.context.newPage();
    await phone.goto(pushed.links[0]!);
    await reachPicks(phone); // consent only if the background identification had not finished yet
    await expect(phone.locator('#title').textContent()).resolves.toBe('确认在电脑上登录？');
    // 确认 like a person: read the two digits on the PC, tap them on the phone
    await phone.getByRole('button', { name: await digitsOn(page), exact: true }).click();
    await phone.getByText('已确认，请回到电脑上继续').waitFor();

    // logged in: the account page, or the profile page for a person whose profile is still empty
    // (identified from the follow alone: cgi-bin/user/info gives no nickname)
    await page.waitForURL(new RegExp(`^${app}/(pages/account|uni_modules/wlu-wxlogin/pages/profile)/index`), { timeout: 15_000 });
    expect(await page.evaluate(() => localStorage.getItem('auth.session'))).toMatch(/[a-z2-7]{32}/);
    expect(errors).toEqual([]);
    await Promise.all([page.close(), phone.close()]);
  });
});
