// The compiled mp-weixin login page against the real API + WeChat simulator: no login wall
// (暂不登录 goes back), the agreement is unticked and a tap asks to agree (同意并登录), then ONE
// wx.login — none on page show — and a token /api/auth/me accepts.
import { expect, it, vi } from 'vitest';
import { createFakeWx, httpJson, loadPage, simulatorLogin } from './support/mp';
import { useScenario } from './support/scenario';

const scenario = useScenario();

it('Should ask to agree first, then log in with one wx.login and store a token /api/auth/me accepts', async () => {
  const { stack, dist } = scenario;
  const fake = createFakeWx({ apiUrl: stack.apiUrl, login: simulatorLogin(stack.simUrl, stack.appid, 'mp-tap-user') });
  const home = await loadPage(dist, 'pages/index/index', fake);
  await home.tap('.home-login-btn');
  const view = await home.app.waitFor('uni_modules/wlu-wxlogin/pages/login/index');
  // the button shows once the server said it has this mini-program's door (GET /api/auth/doors)
  await vi.waitFor(() => expect(view.find('.login-btn')).not.toBeNull());
  expect(view.text()).toContain('微信登录');
  await new Promise((r) => setTimeout(r, 100));
  expect(fake.calls.login).toBe(0); // no code fetched on show: no login is coming yet

  // 暂不登录: back to what the person was looking at
  await view.tap('.skip-login-btn');
  await home.app.waitFor('pages/index/index');
  await home.tap('.home-login-btn');
  const again = await home.app.waitFor('uni_modules/wlu-wxlogin/pages/login/index');

  // unticked: the tap opens the agreement popup; 不同意 closes it, nothing is sent
  await again.tap('.login-btn');
  await vi.waitFor(() => expect(again.find('.agree-mask')).not.toBeNull());
  expect(again.text()).toContain('请先阅读并同意《用户协议》和《隐私政策》');
  await again.tap('.agree-cancel-btn');
  await vi.waitFor(() => expect(again.find('.agree-mask')).toBeNull());
  expect(fake.calls.login).toBe(0);
  // nothing sent but the doors, asked once for both openings of the login page (once per app start)
  expect(fake.calls.request.map((r) => `${r.method} ${r.url}`)).toEqual(['GET /api/auth/doors']);

  // ticking the box, then 微信登录: one wx.login inside the tap's flow, one login request
  await again.tap('.agree-check');
  await vi.waitFor(() => expect(again.find('.agree-checked')).not.toBeNull());
  await again.tap('.login-btn');
  await vi.waitFor(() => expect(again.text()).toContain('登录成功'), { timeout: 10_000 });
  expect(fake.calls.login).toBe(1);
  const login = fake.calls.request.find((r) => r.url === '/api/auth/mini/login');
  expect(login?.data).toEqual({ code: expect.any(String) });
  expect(fake.storage.get('auth.agreed')).toBe(true);

  const session = fake.storage.get('auth.session') as { token: string; user: { id: string } };
  const me = await httpJson('GET', `${stack.apiUrl}/api/auth/me`, undefined, { authorization: `Bearer ${session.token}` });
  expect(me.status).toBe(200);
  expect(me.body.user.id).toBe(session.user.id);

  // a new user has no real profile yet → the fill-in page is next (really opened)
  await home.app.waitFor('uni_modules/wlu-wxlogin/pages/profile/index');
  expect(home.app.routes()).toEqual(['pages/index/index', 'uni_modules/wlu-wxlogin/pages/profile/index']);
});
