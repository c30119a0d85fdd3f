// getUserProfile fails (the person taps 拒绝 in WeChat's dialog): the login goes on without a
// profile and the new user is sent to the avatar/nickname page.
import { expect, it, vi } from 'vitest';
import { createFakeWx, httpJson, loadPage, simulatorLogin } from './support/mp';
import { useScenario } from './support/scenario';

const scenario = useScenario();

it('Should log in when getUserProfile fails', async () => {
  const { stack, dist } = scenario;
  const fake = createFakeWx({
    apiUrl: stack.apiUrl,
    login: simulatorLogin(stack.simUrl, stack.appid, 'mp-refused-user'),
    getUserProfile: (opts) => opts.fail?.({ errMsg: 'getUserProfile:fail auth deny' }),
  });
  const view = await loadPage(dist, 'pages/login/index', fake);

  await view.tap('.login-btn');
  await vi.waitFor(() => expect(view.text()).toContain('登录成功'), { timeout: 10_000 });

  expect(fake.calls.getUserProfile).toEqual([{ duringTap: true }]);
  const session = fake.storage.get('auth.session') as { token: string };
  const me = await httpJson('GET', `${stack.apiUrl}/api/me`, undefined, { authorization: `Bearer ${session.token}` });
  expect(me.status).toBe(200);
  expect(me.body.user.profileComplete).toBe(false);
  expect(view.find('.privacy-mask')).toBeNull(); // not a privacy failure: no popup
  await vi.waitFor(() => expect(fake.calls.navigation).toContainEqual({ api: 'reLaunch', url: '/pages/profile/index' }));
});
