// An old base library (< 2.27.1), where getUserProfile still gives a real profile: it is asked
// inside the tap, but the login never waits for it. The privacy popup it triggers is answered
// 拒绝: the login has already finished (no 10 s 登录中…) and the page says what happened.
import { expect, it, vi } from 'vitest';
import { createFakeWx, loadPage, simulatorLogin } from './support/mp';
import { useScenario } from './support/scenario';

const scenario = useScenario();

it('Should log in at once on an old base library while the privacy popup is still open, and take a refusal', async () => {
  const { stack, dist } = scenario;
  const fake = createFakeWx({
    apiUrl: stack.apiUrl,
    sdkVersion: '2.26.2',
    login: simulatorLogin(stack.simUrl, stack.appid, 'mp-old-sdk-user'),
    getUserProfile: (opts) => opts.success?.({ userInfo: { nickName: '老版本用户', avatarUrl: 'https://thirdwx.qlogo.cn/mmopen/vi_32/real/132' }, errMsg: 'getUserProfile:ok' }),
  });
  const view = await loadPage(dist, 'uni_modules/wlu-wxlogin/pages/login/index', fake);
  expect(view.find('.privacy-mask')).toBeNull();

  await view.tap('.agree-check');
  await vi.waitFor(() => expect(view.find('.agree-checked')).not.toBeNull());
  const tapped = Date.now();
  await view.tap('.login-btn');

  expect(fake.calls.getUserProfile).toEqual([{ duringTap: true }]); // inside the tap
  await vi.waitFor(() => expect(view.find('.privacy-mask')).not.toBeNull());
  // the login does not wait for the privacy answer nor the profile
  await vi.waitFor(() => expect(view.text()).toContain('登录成功'), { timeout: 5_000 });
  expect(Date.now() - tapped).toBeLessThan(3_000);
  const login = fake.calls.request.find((r) => r.url === '/api/auth/mini/login');
  expect(login?.data).toEqual({ code: expect.any(String) });

  await view.tap('.privacy-disagree');
  await vi.waitFor(() => expect(view.find('.privacy-mask')).toBeNull());
  expect(view.text()).toContain('未同意《用户隐私保护指引》');
  expect(fake.calls.request.filter((r) => r.url === '/api/auth/me' && r.method === 'PUT')).toEqual([]); // nothing to save
  // the page waited for the answer; now it goes on to the fill-in
  await view.app.waitFor('uni_modules/wlu-wxlogin/pages/profile/index');
});
