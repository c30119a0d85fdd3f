/**
 * Screenshots for docs/CLIENT.md. The mini-program pages are the COMPILED release bundle rendered
 * by miniprogram-simulate (official WXML compiler) and photographed in headless Chromium with the
 * page's own WXSS plus a small stand-in for WeChat's built-in component styles (button, input…).
 *   npx vitest run --config client/tests/screenshots/vitest.config.mts
 * Output: docs/screenshots/*.png (SCREENSHOT_DIR to change).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { CHROMIUM, launchBrowser } from '../support/browser';
import { ROOT, ensureBuild } from '../support/build';
import { createFakeWx, loadPage, runnableCopy, simulatorLogin, type LoadedPage } from '../support/mp';
import { apiLogin } from '../support/scenario';
import { serveStatic } from '../support/static-server';
import { startStackProcess, type StackHandle } from '../support/stack-process';

const OUT = process.env.SCREENSHOT_DIR ?? join(ROOT, 'docs/screenshots');

/** Rough look of WeChat's built-in components (the real ones come from the WeChat client). */
const WECHAT_BASE_CSS = `
  html, body { margin: 0; background: #f7f7f7; font-family: -apple-system, 'PingFang SC', 'Noto Sans CJK SC', 'Helvetica Neue', sans-serif; color: #1a1a1a; }
  .phone { width: 375px; min-height: 720px; position: relative; overflow: hidden; background: #f7f7f7; }
  .nav { height: 44px; padding-top: 20px; display: flex; align-items: center; justify-content: center; font-size: 17px; font-weight: 600; background: #f7f7f7; border-bottom: 1px solid #eee; }
  .capsule { position: absolute; right: 8px; top: 27px; width: 87px; height: 32px; border: 1px solid #e5e5e5; border-radius: 16px; background: #fff; }
  main, wx-view, wx-form, wx-button, wx-image { display: block; }
  wx-text { display: inline; }
  wx-view[class$="--page"] { min-height: 640px !important; }
  wx-button { position: relative; box-sizing: border-box; margin: 0 auto; padding: 0 14px; font-size: 18px; line-height: 2.55555556; text-align: center; border-radius: 5px; background: #f8f8f8; color: #000; font-weight: 600; }
  wx-button[type="primary"], wx-button[class*="login-btn"], wx-button[class*="save-btn"], wx-button[class*="privacy-agree"] { background: #07c160; color: #fff; }
  wx-button[class*="logout-btn"] { background: #fa5151; color: #fff; }
  wx-input { display: block; height: 1.4rem; min-height: 1.4rem; color: #999; }
  wx-switch { display: inline-block; width: 52px; height: 32px; border-radius: 16px; background: #07c160; }
  wx-button[class*="agree-login-btn"], wx-button[class*="login-entry"], wx-button[class*="home-login-btn"] { background: #07c160; color: #fff; }
  wx-button[size="mini"] { display: inline-block; font-size: 13px; line-height: 2.3; padding: 0 1.34em; }
  .tabbar { position: absolute; left: 0; right: 0; bottom: 0; height: 50px; display: flex; background: #fff; border-top: 1px solid #e5e5e5; }
  .tabbar span { flex: 1; text-align: center; line-height: 50px; font-size: 13px; color: #888; }
  .tabbar span.on { color: #07c160; }
`;

let stack: StackHandle;
let browser: Awaited<ReturnType<typeof launchBrowser>>;
let bundle: ReturnType<typeof runnableCopy>;

beforeAll(async () => {
  if (!CHROMIUM) throw new Error('needs Chromium (apt-get install chromium, or CHROMIUM_PATH)');
  mkdirSync(OUT, { recursive: true });
  bundle = runnableCopy(await ensureBuild('mp-weixin'));
  stack = await startStackProcess();
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await stack?.close();
  bundle?.remove();
});

/** Photographs a rendered mini-program page: its DOM, the WXSS simulate injected, a fake nav bar (and tab bar). */
async function shoot(view: LoadedPage, title: string, file: string, tab?: '首页' | '我的') {
  const styles = [...document.querySelectorAll('style')].map((s) => s.textContent).join('\n');
  const body = view.page.dom.outerHTML as string;
  const tabBar = tab
    ? `<div class="tabbar">${['首页', '我的'].map((t) => `<span class="${t === tab ? 'on' : ''}">${t}</span>`).join('')}</div>`
    : '';
  const html = `<!doctype html><meta charset="utf-8"><style>${WECHAT_BASE_CSS}\n${styles}</style>
    <div class="phone"><div class="nav">${title}</div><div class="capsule"></div>${body}${tabBar}</div>`;
  const page = await browser.context.newPage();
  await page.setViewportSize({ width: 375, height: 720 });
  await page.setContent(html);
  await page.locator('.phone').screenshot({ path: join(OUT, file) });
  await page.close();
}

it('captures home, 我的 (logged out), login, the agreement popup, the fill-in with the privacy popup, the account (mp-weixin, simulated)', async () => {
  const fake = createFakeWx({
    apiUrl: stack.apiUrl,
    login: simulatorLogin(stack.simUrl, stack.appid, 'screenshot-user'),
    privacyContractName: '《微信登录示例隐私保护指引》',
  });
  const home = await loadPage(bundle.dir, 'pages/index/index', fake);
  await shoot(home, '首页', 'mp-home.png', '首页');
  fake.wx.switchTab({ url: '/pages/account/index' });
  const guest = await home.app.waitFor('pages/account/index');
  await vi.waitFor(() => expect(guest.text()).toContain('未登录'));
  await shoot(guest, '我的账号', 'mp-mine-guest.png', '我的');
  await guest.tap('.login-entry');
  const login = await home.app.waitFor('uni_modules/wlu-wxlogin/pages/login/index');
  await shoot(login, '登录', 'mp-login.png');
  await login.tap('.login-btn');
  await vi.waitFor(() => expect(login.find('.agree-mask')).not.toBeNull());
  await shoot(login, '登录', 'mp-login-agree.png');
  await login.tap('.agree-login-btn');
  await vi.waitFor(() => expect(login.text()).toContain('登录成功'), { timeout: 10_000 });
  await shoot(login, '登录', 'mp-login-success.png');
  const profile = await home.app.waitFor('uni_modules/wlu-wxlogin/pages/profile/index');
  const chosen = profile.tapGated('.avatar-btn', 'chooseavatar', { avatarUrl: fake.addTempFile(Buffer.from('x')) }, 'chooseAvatar');
  await vi.waitFor(() => expect(profile.find('.privacy-mask')).not.toBeNull());
  await shoot(profile, '完善资料', 'mp-privacy-popup.png');
  await profile.tap('.privacy-disagree');
  await chosen;
  await vi.waitFor(() => expect(profile.find('.privacy-mask')).toBeNull());
  await shoot(profile, '完善资料', 'mp-profile.png');
});

it('captures the account page (mp-weixin, simulated)', async () => {
  const session = await apiLogin(stack, 'screenshot-account');
  const fake = createFakeWx({ apiUrl: stack.apiUrl, login: simulatorLogin(stack.simUrl, stack.appid, 'screenshot-account') });
  fake.storage.set('auth.session', session);
  const account = await loadPage(bundle.dir, 'pages/account/index', fake);
  await vi.waitFor(() => expect(account.text()).toContain('绑定手机号'), { timeout: 10_000 });
  await shoot(account, '我的账号', 'mp-account.png', '我的');
});

it('captures the H5 login page (H5 build, Chromium)', async () => {
  const site = await serveStatic(await ensureBuild('h5'), stack.apiUrl);
  try {
    const page = await browser.context.newPage();
    await page.setViewportSize({ width: 375, height: 720 });
    await page.goto(`${site.url}/uni_modules/wlu-wxlogin/pages/login/index`);
    await page.getByText('微信扫码登录', { exact: true }).waitFor();
    await page.screenshot({ path: join(OUT, 'h5-login.png') });
    await page.close();
  } finally {
    await site.close();
  }
  writeFileSync(join(OUT, 'README.md'), 'Generated by `npx vitest run --config client/tests/screenshots/vitest.config.mts` (see docs/CLIENT.md).\n');
});
