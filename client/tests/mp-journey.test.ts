// The whole journey through the COMPILED mini-program, with a fake wx as strict as WeChat:
// open without logging in → browse → 我的 → 登录 → 微信登录 (agreement popup, 同意并登录) →
// fill-in (avatar + nickname, privacy consent, saved with methods wx.request has) → 我的账号 →
// 绑定手机号 after a refused, then accepted privacy popup → 退出登录.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { expect, it, vi } from 'vitest';
import { createFakeWx, httpJson, loadPage, postJson, simulatorLogin } from './support/mp';
import { useScenario } from './support/scenario';

const scenario = useScenario();

function bytesUnder(dir: string): number {
  return readdirSync(dir).reduce((sum, name) => {
    const path = join(dir, name);
    return sum + (statSync(path).isDirectory() ? bytesUnder(path) : name === 'package.json' ? 0 : statSync(path).size);
  }, 0);
}

it('Should take a new person from the home tab to a saved profile, a phone number and back out', async () => {
  const { stack, dist } = scenario;
  const kb = bytesUnder(dist) / 1024;
  console.log(`mp-weixin main package: ${kb.toFixed(1)} KB`);
  expect(kb).toBeLessThanOrEqual(120);

  const fake = createFakeWx({ apiUrl: stack.apiUrl, login: simulatorLogin(stack.simUrl, stack.appid, 'mp-journey-user') });

  // 1. the app opens on a page that works without login: no wx.login, no request, no checkSession
  const home = await loadPage(dist, 'pages/index/index', fake);
  const { app } = home;
  expect(home.text()).toContain('欢迎，你可以先随便看看');
  expect(home.text()).toContain('一键登录');
  await new Promise((r) => setTimeout(r, 100));
  expect(fake.calls.login).toBe(0);
  expect(fake.calls.checkSession).toBe(0);
  expect(fake.calls.request).toEqual([]);

  // 2. the 我的 tab, logged out: a 登录 entry, still nothing sent
  fake.wx.switchTab({ url: '/pages/account/index' });
  const mine = await app.waitFor('pages/account/index');
  await vi.waitFor(() => expect(mine.text()).toContain('未登录'));
  expect(fake.calls.request).toEqual([]);

  // 3. 登录 on demand → the login page: agreement unticked, 暂不登录 offered
  await mine.tap('.login-entry');
  const login = await app.waitFor('uni_modules/wlu-wxlogin/pages/login/index');
  expect(app.routes()).toEqual(['pages/account/index', 'uni_modules/wlu-wxlogin/pages/login/index']);
  expect(login.text()).toContain('暂不登录');
  // the button and the agreement line show once the server said it has this mini-program's door (GET /api/auth/doors)
  await vi.waitFor(() => expect(login.text()).toContain('《用户协议》'));
  expect(login.text()).toContain('《隐私政策》');
  expect(login.find('.agree-checked')).toBeNull();
  expect(login.text()).not.toContain('uni.login');

  // 4. 微信登录 unticked → a popup asking to agree (never a silent no-op), nothing sent yet
  await login.tap('.login-btn');
  await vi.waitFor(() => expect(login.find('.agree-mask')).not.toBeNull());
  expect(login.text()).toContain('同意并登录');
  expect(fake.calls.login).toBe(0);

  // 5. 同意并登录 → one wx.login, one login request; getUserProfile not called (base library 3.5.0)
  await login.tap('.agree-login-btn');
  await vi.waitFor(() => expect(login.text()).toContain('登录成功'), { timeout: 10_000 });
  expect(fake.calls.login).toBe(1);
  expect(fake.calls.getUserProfile).toEqual([]);
  expect(fake.calls.request.filter((r) => r.url === '/api/auth/mini/login')).toHaveLength(1);

  // 6. a new user goes to the fill-in; chooseAvatar waits for privacy consent
  const profile = await app.waitFor('uni_modules/wlu-wxlogin/pages/profile/index');
  expect(app.routes()).toEqual(['pages/account/index', 'uni_modules/wlu-wxlogin/pages/profile/index']);
  const red = await sharp({ create: { width: 64, height: 64, channels: 3, background: { r: 230, g: 20, b: 20 } } }).png().toBuffer();
  const avatarPath = fake.addTempFile(red);
  const chosen = profile.tapGated('.avatar-btn', 'chooseavatar', { avatarUrl: avatarPath }, 'chooseAvatar');
  await vi.waitFor(() => expect(profile.find('.privacy-mask')).not.toBeNull());
  await profile.agreePrivacy();
  await chosen;
  await profile.tapGated('.nickname', 'input', { value: '小明' }, 'nickname');
  await profile.tap('.form', 'submit', { value: { nickname: '小明' } });

  // 7. saved with methods wx.request has; the uploaded avatar is the file chosen
  const account = await app.waitFor('pages/account/index', 15_000);
  expect(fake.calls.refused).toEqual([]);
  expect(fake.calls.request.map((r) => r.method)).not.toContain('PATCH');
  expect(fake.calls.request.find((r) => r.url === '/api/auth/me' && r.method === 'PUT')?.data).toEqual({ nickname: '小明' });
  const token = (fake.storage.get('auth.session') as { token: string }).token;
  const me = await httpJson('GET', `${stack.apiUrl}/api/auth/me`, undefined, { authorization: `Bearer ${token}` });
  expect(me.body.user).toMatchObject({ nickname: '小明', profileComplete: true });
  const avatar = await fetch(`${stack.apiUrl}${me.body.user.avatarUrl}`);
  const stats = await sharp(Buffer.from(await avatar.arrayBuffer())).stats();
  expect(stats.channels[0]!.mean).toBeGreaterThan(180); // red, as chosen
  expect(stats.channels[1]!.mean).toBeLessThan(60);
  await vi.waitFor(() => expect(account.text()).toContain('小明'), { timeout: 10_000 });
  // the avatar image fails to load (offline, deleted): the placeholder with the initial, not a blank slot
  await vi.waitFor(() => expect(account.find('.avatar')).not.toBeNull());
  expect(account.find('.avatar-empty')).toBeNull(); // the uploaded image is shown
  account.find('.avatar')!.dispatchEvent('error', { detail: { errMsg: 'GET avatar 404' } });
  await vi.waitFor(() => expect(account.find('.avatar-empty')).not.toBeNull());
  expect(account.text()).toContain('小');

  // 8. the developer adds 手机号 to the 用户隐私保护指引: WeChat asks for consent again
  fake.privacy.agreed = false;
  fake.privacy.agreeButtonTapped = false;
  const { body: phoneCode } = await postJson(`${stack.simUrl}/__sim/mini/phone-code`, { appid: stack.appid, user: 'mp-journey-user', phone: '13700003333' });
  const refused = account.tapGated('.phone-btn', 'getphonenumber', { errMsg: 'getPhoneNumber:ok', code: phoneCode.code }, 'getPhoneNumber');
  await vi.waitFor(() => expect(account.find('.privacy-mask')).not.toBeNull());
  await account.tap('.privacy-disagree');
  await refused; // the refusal ends the attempt at once
  await vi.waitFor(() => expect(account.text()).toContain('未同意《用户隐私保护指引》，无法绑定手机号'));
  expect(account.find('.privacy-mask')).toBeNull();

  // the popup does not come back by itself on the next page show
  fake.wx.navigateTo({ url: '/uni_modules/wlu-wxlogin/pages/legal/index?doc=privacy' });
  await app.waitFor('uni_modules/wlu-wxlogin/pages/legal/index');
  fake.wx.navigateBack({});
  await app.waitFor('pages/account/index');
  await new Promise((r) => setTimeout(r, 100));
  expect(account.find('.privacy-mask')).toBeNull();

  // 9. 绑定手机号 again: popup → 同意 → the number is saved
  const accepted = account.tapGated('.phone-btn', 'getphonenumber', { errMsg: 'getPhoneNumber:ok', code: phoneCode.code }, 'getPhoneNumber');
  await vi.waitFor(() => expect(account.find('.privacy-mask')).not.toBeNull());
  await account.agreePrivacy();
  await accepted;
  await vi.waitFor(() => expect(account.text()).toContain('137****3333'), { timeout: 10_000 });

  // 10. 退出登录 → home tab, logged out, the token revoked on the server
  await account.tap('.logout-btn');
  const back = await app.waitFor('pages/index/index');
  expect(app.routes()).toEqual(['pages/index/index']);
  expect(back.text()).toContain('欢迎，你可以先随便看看');
  expect(fake.storage.has('auth.session')).toBe(false);
  const after = await httpJson('GET', `${stack.apiUrl}/api/auth/me`, undefined, { authorization: `Bearer ${token}` });
  expect(after.status).toBe(401);
  expect(fake.calls.login).toBe(1); // one wx.login in the whole journey
});
