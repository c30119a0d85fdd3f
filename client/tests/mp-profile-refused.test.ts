// Base library ≥ 2.27.1: uni.getUserProfile only answers 微信用户 and a grey avatar, so the login
// page does not call it — straight to the avatar/nickname fill-in (wechat-api-facts.md §2).
import { expect, it, vi } from 'vitest';
import { createFakeWx, httpJson, loadPage, simulatorLogin } from './support/mp';
import { useScenario } from './support/scenario';

const scenario = useScenario();

it('Should not call getUserProfile on a current base library, and open the fill-in', async () => {
  const { stack, dist } = scenario;
  const fake = createFakeWx({
    apiUrl: stack.apiUrl,
    sdkVersion: '3.5.0',
    login: simulatorLogin(stack.simUrl, stack.appid, 'mp-modern-user'),
    getUserProfile: (opts) => opts.success?.({ userInfo: { nickName: '微信用户', avatarUrl: '' }, errMsg: 'getUserProfile:ok' }),
  });
  const view = await loadPage(dist, 'uni_modules/wlu-wxlogin/pages/login/index', fake);

  await view.tap('.agree-check');
  await vi.waitFor(() => expect(view.find('.agree-checked')).not.toBeNull());
  await view.tap('.login-btn');
  await vi.waitFor(() => expect(view.text()).toContain('登录成功'), { timeout: 10_000 });

  expect(fake.calls.getUserProfile).toEqual([]);
  expect(fake.privacy.prompts).toEqual([]); // nothing privacy-gated on the way to a login
  const session = fake.storage.get('auth.session') as { token: string };
  const me = await httpJson('GET', `${stack.apiUrl}/api/auth/me`, undefined, { authorization: `Bearer ${session.token}` });
  expect(me.body.user.profileComplete).toBe(false);
  await view.app.waitFor('uni_modules/wlu-wxlogin/pages/profile/index');
});
