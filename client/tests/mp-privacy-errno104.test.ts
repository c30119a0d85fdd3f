// getUserProfile refused by the privacy rules (errno 104, "privacy permission is not
// authorized"): the compiled page shows the consent popup and a clear message, and the login
// itself still succeeds (wx.login is not a privacy API; the profile is optional).
import { expect, it, vi } from 'vitest';
import { createFakeWx, loadPage, simulatorLogin } from './support/mp';
import { useScenario } from './support/scenario';

const scenario = useScenario();

it('Should open the consent popup on errno 104 and still log in', async () => {
  const { stack, dist } = scenario;
  const fake = createFakeWx({
    apiUrl: stack.apiUrl,
    login: simulatorLogin(stack.simUrl, stack.appid, 'mp-errno104-user'),
    getUserProfile: (opts) => opts.fail?.({ errno: 104, errMsg: 'getUserProfile:fail privacy permission is not authorized' }),
  });
  const view = await loadPage(dist, 'pages/login/index', fake);
  expect(view.find('.privacy-mask')).toBeNull();

  await view.tap('.login-btn');

  await vi.waitFor(() => expect(view.find('.privacy-mask')).not.toBeNull());
  expect(view.text()).toContain('请先阅读并同意《用户隐私保护指引》');
  await vi.waitFor(() => expect(view.text()).toContain('登录成功'), { timeout: 10_000 });
  expect((fake.storage.get('auth.session') as { token?: string }).token).toEqual(expect.any(String));
  const login = fake.calls.request.find((r) => r.url === '/api/auth/mini/login');
  expect(login?.data).toEqual({ code: expect.any(String) }); // no profile sent
});
