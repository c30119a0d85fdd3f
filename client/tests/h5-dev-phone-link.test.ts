// @vitest-environment node
// Issue 18 item 8: in development (the H5 dev server `npm run dev` starts), the PC login card shows
// a link under its QR that plays the phone in the WeChat simulator — for the embedded WxLogin, our
// own QR and the follow QR (the redirect form's simulator page has one already). Clicking it logs
// the PC in without digging a URL out of an iframe or a JSON answer. The release build has no trace
// of it (client/tests/h5-newcomer.test.ts; .ci/run greps the release bundles for simulator code).
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, digitsOn, freePort, launchBrowser, reachPicks, WECHAT_UA, type Browser } from './support/browser';
import { ROOT } from './support/build';
import { startStackProcess, type StackHandle } from './support/stack-process';

const LINK = '在模拟器里用手机打开 / open as the phone';
let stack: StackHandle;
let devServer: ChildProcess | undefined;
let dev: string;
let pc: Browser;
let phone: Browser;

if (!CHROMIUM) console.warn('h5-dev-phone-link.test.ts skipped: no Chromium');

/** `node scripts/uni.mjs dev h5` (what `npm run dev` runs), proxying /api to the test's API. */
async function startDevServer(port: number): Promise<string> {
  // as from a shell: uni's H5 plugin serves Vue's CommonJS build when it sees VITEST
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VITEST')));
  devServer = spawn(process.execPath, ['scripts/uni.mjs', 'dev', 'h5'], {
    cwd: ROOT,
    env: { ...env, NODE_ENV: 'development', H5_PORT: String(port), VITE_DEV_API_TARGET: stack.apiUrl, VITE_DEV_SIM_URL: stack.simUrl },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  devServer.stdout!.on('data', (d) => (output += d));
  devServer.stderr!.on('data', (d) => (output += d));
  const url = `http://localhost:${port}`;
  const deadline = Date.now() + 240_000;
  while (Date.now() < deadline) {
    if (devServer.exitCode !== null) throw new Error(`H5 dev server exited:\n${output}`);
    const ok = await fetch(`${url}/`).then((r) => r.ok, () => false);
    if (ok) return url;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`H5 dev server did not answer on ${url}:\n${output}`);
}

beforeAll(async () => {
  if (!CHROMIUM) return;
  const h5Port = await freePort();
  stack = await startStackProcess({
    domains: ['127.0.0.1', 'localhost'],
    env: {
      // the follow reply's link must reach the API through the dev server
      PUBLIC_BASE_URL: `http://localhost:${h5Port}`,
      WECHAT_OA_TOKEN: 'devPhoneLink1',
      WECHAT_OA_ENCODING_AES_KEY: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG',
      WECHAT_OA_MESSAGE_MODE: 'safe',
    },
  });
  dev = await startDevServer(h5Port);
  pc = await launchBrowser({ viewport: { width: 1366, height: 800 } });
  phone = await launchBrowser({ userAgent: WECHAT_UA });
}, 300_000);
afterAll(async () => {
  await pc?.close();
  await phone?.close();
  devServer?.kill('SIGTERM');
  await stack?.close();
});

/** PC: the login card with `form`; returns the page and the dev link's address. */
async function pcCard(form: string) {
  const page = await pc.context.newPage();
  // logged out (an earlier test logged this browser in)
  await pc.context.clearCookies();
  await page.goto(`${dev}/static/`).catch(() => undefined);
  await page.evaluate(() => localStorage.clear());
  await page.goto(`${dev}/uni_modules/wlu-wxlogin/pages/login/index?pc_login=${form}`);
  const link = page.getByText(LINK, { exact: true });
  await link.waitFor({ timeout: 120_000 }); // the dev server compiles on first request
  const href = (await link.getAttribute('href'))!;
  expect(href.startsWith(`${stack.simUrl}/__sim/phone?`)).toBe(true);
  return { page, href: href.replace('user=alice', `user=dev-${form}`) };
}

async function loggedIn(page: import('playwright-core').Page) {
  await page.waitForURL(new RegExp(`^${dev}/(pages/account|uni_modules/wlu-wxlogin/pages/profile)/index`), { timeout: 30_000 });
  expect(await page.evaluate(() => localStorage.getItem('auth.session'))).toMatch(/[a-z2-7]{32}/);
}

/** WeChat's browser on our phone pages: consent once if asked, then 确认 by tapping the two digits the PC shows. */
async function confirmOnPhone(mobile: import('playwright-core').Page, pcPage: import('playwright-core').Page) {
  await reachPicks(mobile, 20_000);
  await mobile.getByRole('button', { name: await digitsOn(pcPage), exact: true }).click();
}

describe.skipIf(!CHROMIUM)('development: "open as the phone" under the PC card QR', () => {
  it('loads ONE copy of the login module in the dev server (the symlinked uni_module, not an npm copy)', { timeout: 240_000 }, async () => {
    const { page } = await pcCard('own-qr');
    expect(await page.evaluate(() => (globalThis as unknown as Record<symbol, Set<unknown> | undefined>)[Symbol.for('wlu-wxlogin.copies')]?.size)).toBe(1);
    await page.close();
  });

  it('embedded WxLogin: the link opens the simulator phone page of the QR inside the iframe; 确认登录 logs the PC in', { timeout: 240_000 }, async () => {
    const { page, href } = await pcCard('embedded');
    const mobile = await pc.context.newPage(); // the website QR's phone page needs no WeChat browser
    await mobile.goto(href);
    await mobile.getByText('确认登录', { exact: true }).first().waitFor({ timeout: 15_000 });
    await mobile.click('#confirm');
    await loggedIn(page);
    await Promise.all([page.close(), mobile.close()]);
  });

  it('own QR: in WeChat’s browser the link opens the QR’s page as the phone; 确认 logs the PC in', { timeout: 240_000 }, async () => {
    const { page, href } = await pcCard('own-qr');
    // a desktop browser is told what WeChat needs instead of meeting 请在微信客户端打开链接
    const desktop = await pc.context.newPage();
    await desktop.goto(href);
    await expect(desktop.locator('#needs-wechat').innerText()).resolves.toContain('MicroMessenger');
    await desktop.close();

    const mobile = await phone.context.newPage();
    await mobile.goto(href);
    await confirmOnPhone(mobile, page);
    await loggedIn(page);
    await Promise.all([page.close(), mobile.close()]);
  });

  it('follow QR: the link scans it as the phone and shows the reply; its link, then 确认, logs the PC in', { timeout: 240_000 }, async () => {
    const { page, href } = await pcCard('follow');
    const mobile = await phone.context.newPage();
    await mobile.goto(href);
    await mobile.locator('#reply').waitFor({ timeout: 15_000 });
    await mobile.locator('a.phone-open').first().click();
    await confirmOnPhone(mobile, page);
    await loggedIn(page);
    await Promise.all([page.close(), mobile.close()]);
  });
});
