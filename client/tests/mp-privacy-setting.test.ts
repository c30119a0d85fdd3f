// The compiled login page when the person has not agreed to the privacy guide yet:
// getPrivacySetting → needAuthorization → consent popup; its agreePrivacyAuthorization button
// resolves the pending onNeedPrivacyAuthorization request.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it, vi } from 'vitest';
import { createFakeWx, loadPage, simulatorLogin } from './support/mp';
import { useScenario } from './support/scenario';

const scenario = useScenario();

it('Should show the consent popup when getPrivacySetting says authorization is needed', async () => {
  const { stack, dist } = scenario;
  const fake = createFakeWx({
    apiUrl: stack.apiUrl,
    login: simulatorLogin(stack.simUrl, stack.appid, 'mp-privacy-user'),
    getPrivacySetting: () => ({ needAuthorization: true, privacyContractName: '《微信登录示例小程序隐私保护指引》' }),
  });
  const view = await loadPage(dist, 'pages/login/index', fake);

  await vi.waitFor(() => expect(view.find('.privacy-mask')).not.toBeNull());
  expect(view.text()).toContain('用户隐私保护提示');
  expect(view.text()).toContain('《微信登录示例小程序隐私保护指引》');
  expect(view.find('#privacy-agree')).not.toBeNull();
  // the agree button is WeChat's agreePrivacyAuthorization button (checked in the compiled WXML)
  const wxml = readFileSync(join(dist, 'components/PrivacyPopup.wxml'), 'utf8');
  expect(wxml).toMatch(/<button id="\{\{\w+\}\}"[^>]*open-type="agreePrivacyAuthorization"[^>]*bindagreeprivacyauthorization=/);

  // WeChat asks through onNeedPrivacyAuthorization when a privacy API is used first
  expect(fake.privacyListener).toBeTypeOf('function');
  const resolve = vi.fn();
  fake.privacyListener!(resolve, { referrer: 'getUserProfile' });

  await view.tap('#privacy-agree', 'agreeprivacyauthorization');
  await vi.waitFor(() => expect(resolve).toHaveBeenCalledWith({ buttonId: 'privacy-agree', event: 'agree' }));
  await vi.waitFor(() => expect(view.find('.privacy-mask')).toBeNull());
});
