// The account page before privacy consent: no popup on page show (a person who refused is not
// asked on every show); 绑定手机号 asks through onNeedPrivacyAuthorization with the contract name
// from getPrivacySetting; 拒绝 ends the attempt at once; the agree button is WeChat's
// agreePrivacyAuthorization button.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it, vi } from 'vitest';
import { createFakeWx, loadPage, simulatorLogin } from './support/mp';
import { apiLogin, useScenario } from './support/scenario';

const scenario = useScenario();

it('Should ask for privacy consent on demand only, and end a refused 绑定手机号 at once', async () => {
  const { stack, dist } = scenario;
  const session = await apiLogin(stack, 'mp-privacy-user');
  const fake = createFakeWx({
    apiUrl: stack.apiUrl,
    login: simulatorLogin(stack.simUrl, stack.appid, 'mp-privacy-user'),
    privacyContractName: '《微信登录示例小程序隐私保护指引》',
  });
  fake.storage.set('auth.session', session);
  const view = await loadPage(dist, 'pages/account/index', fake);
  await vi.waitFor(() => expect(view.text()).toContain('绑定手机号'), { timeout: 10_000 });
  await new Promise((r) => setTimeout(r, 100));
  expect(view.find('.privacy-mask')).toBeNull(); // needAuthorization, but nobody used a privacy feature yet

  const wxml = readFileSync(join(dist, 'uni_modules/wlu-wxlogin/components/wlu-privacy-popup/wlu-privacy-popup.wxml'), 'utf8');
  expect(wxml).toMatch(/<button id="\{\{\w+\}\}"[^>]*open-type="agreePrivacyAuthorization"[^>]*bindagreeprivacyauthorization=/);

  const attempt = view.tapGated('.phone-btn', 'getphonenumber', { errMsg: 'getPhoneNumber:ok', code: 'never-used-code' }, 'getPhoneNumber');
  await vi.waitFor(() => expect(view.find('.privacy-mask')).not.toBeNull());
  expect(view.text()).toContain('《微信登录示例小程序隐私保护指引》');
  await view.tap('.privacy-disagree');
  await attempt;
  await vi.waitFor(() => expect(view.text()).toContain('未同意《用户隐私保护指引》，无法绑定手机号'));
  expect(fake.calls.request.filter((r) => r.url === '/api/auth/me/phone')).toEqual([]);

  // page shown again: the popup stays away
  view.page.instance.onHide?.();
  view.page.instance.onShow?.();
  await new Promise((r) => setTimeout(r, 100));
  expect(view.find('.privacy-mask')).toBeNull();
});
