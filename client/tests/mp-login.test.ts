// The compiled mp-weixin login page against the real API + WeChat simulator:
// tap 微信登录 → token stored → /api/me answers with the same user.
import { expect, it, vi } from 'vitest';
import { createFakeWx, httpJson, loadPage, simulatorLogin } from './support/mp';
import { useScenario } from './support/scenario';

const scenario = useScenario();

it('Should log in with one tap on the compiled page and store a token /api/me accepts', async () => {
  const { stack, dist } = scenario;
  const fake = createFakeWx({
    apiUrl: stack.apiUrl,
    login: simulatorLogin(stack.simUrl, stack.appid, 'mp-tap-user'),
    // what getUserProfile returns since 2022-11-08: anonymous, so it is not sent as a profile
    getUserProfile: (opts) =>
      opts.success?.({
        userInfo: { nickName: '微信用户', avatarUrl: 'https://thirdwx.qlogo.cn/mmopen/vi_32/POgEwh4mIHO4nibH0KlMECNjjGxQUq24ZEaGT4poC6icRiccVGKSyXwibcPq4BWmiaIGuG1icwxaQX6grC9VemZoJ8rg/132' },
        errMsg: 'getUserProfile:ok',
      }),
  });
  const view = await loadPage(dist, 'pages/login/index', fake);
  expect(view.text()).toContain('微信登录');
  await vi.waitFor(() => expect(fake.calls.login).toBe(1)); // code prefetched on show

  await view.tap('.login-btn');
  await vi.waitFor(() => expect(view.text()).toContain('登录成功'), { timeout: 10_000 });

  // getUserProfile ran first and inside the tap (data-eventsync), before any await
  expect(fake.calls.getUserProfile).toEqual([{ duringTap: true }]);
  // the prefetched code was used: no second wx.login
  expect(fake.calls.login).toBe(1);
  const login = fake.calls.request.find((r) => r.url === '/api/auth/mini/login');
  expect(login?.data).toEqual({ code: expect.any(String) });

  const session = fake.storage.get('auth.session') as { token: string; user: { id: string } };
  expect(session.token).toEqual(expect.any(String));
  const me = await httpJson('GET', `${stack.apiUrl}/api/me`, undefined, { authorization: `Bearer ${session.token}` });
  expect(me.status).toBe(200);
  expect(me.body.user.id).toBe(session.user.id);

  // a new user has no real profile yet → the profile page is next
  await vi.waitFor(() => expect(fake.calls.navigation).toContainEqual({ api: 'reLaunch', url: '/pages/profile/index' }));
});
