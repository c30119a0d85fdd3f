// WeChat marks the account high-risk (40226 → wechat_user_blocked): the compiled page shows
// 账号存在风险，暂时无法登录 and does not retry.
import { expect, it, vi } from 'vitest';
import { createFakeWx, httpJson, loadPage, postJson, simulatorLogin } from './support/mp';
import { useScenario } from './support/scenario';

const scenario = useScenario();

it('Should show 账号存在风险，暂时无法登录 for a blocked account and not retry', async () => {
  const { stack, dist } = scenario;
  const blocked = await postJson(`${stack.simUrl}/__sim/users/block`, { user: 'mp-risky-user', blocked: true });
  expect(blocked.status).toBeLessThan(300);
  const fake = createFakeWx({ apiUrl: stack.apiUrl, login: simulatorLogin(stack.simUrl, stack.appid, 'mp-risky-user') });
  const view = await loadPage(dist, 'uni_modules/wlu-wxlogin/pages/login/index', fake);

  await view.tap('.agree-check');
  await vi.waitFor(() => expect(view.find('.agree-checked')).not.toBeNull());
  await view.tap('.login-btn');
  await vi.waitFor(() => expect(view.text()).toContain('账号存在风险，暂时无法登录'), { timeout: 10_000 });

  expect(fake.storage.has('auth.session')).toBe(false);
  expect(fake.calls.request.filter((r) => r.url === '/api/auth/mini/login')).toHaveLength(1);
  const calls = await httpJson('GET', `${stack.simUrl}/__sim/calls`);
  expect(calls.body.jscode2session).toBe(1);
});
