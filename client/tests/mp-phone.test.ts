// The compiled account page: 绑定手机号 (open-type="getPhoneNumber") → e.detail.code → API →
// WeChat's getuserphonenumber (simulated) → the masked number on the page. The unavailable cases
// are explained (refused, no quota = errno 1400001, not verified — wechat-api-facts.md §2).
import { expect, it, vi } from 'vitest';
import { createFakeWx, httpJson, loadPage, postJson, simulatorLogin } from './support/mp';
import { apiLogin, useScenario } from './support/scenario';

const scenario = useScenario();

it('Should save the phone number the person agreed to share, and explain when it is unavailable', async () => {
  const { stack, dist } = scenario;
  const session = await apiLogin(stack, 'mp-phone-user');
  const fake = createFakeWx({ apiUrl: stack.apiUrl, login: simulatorLogin(stack.simUrl, stack.appid, 'mp-phone-user') });
  fake.privacy.agreed = true; // consent given earlier
  fake.storage.set('auth.session', session);
  const view = await loadPage(dist, 'pages/account/index', fake);
  await vi.waitFor(() => expect(view.text()).toContain('绑定手机号'), { timeout: 10_000 });

  const press = (detail: Record<string, unknown>) => view.tapGated('.phone-btn', 'getphonenumber', detail, 'getPhoneNumber');
  await press({ errMsg: 'getPhoneNumber:fail user deny' });
  await vi.waitFor(() => expect(view.text()).toContain('你已取消授权手机号'));
  await press({ errMsg: 'getPhoneNumber:fail', errno: 1400001 });
  await vi.waitFor(() => expect(view.text()).toContain('手机号验证次数已用完'));
  await press({ errMsg: 'getPhoneNumber:fail no permission' });
  await vi.waitFor(() => expect(view.text()).toContain('需完成微信认证'));
  expect(view.text()).not.toContain('获取手机号失败，请重试');
  expect(fake.calls.request.filter((r) => r.url === '/api/auth/me/phone')).toEqual([]);

  const { body } = await postJson(`${stack.simUrl}/__sim/mini/phone-code`, { appid: stack.appid, user: 'mp-phone-user', phone: '13700002222' });
  await press({ errMsg: 'getPhoneNumber:ok', code: body.code });
  await vi.waitFor(() => expect(view.text()).toContain('137****2222'), { timeout: 10_000 });
  const me = await httpJson('GET', `${stack.apiUrl}/api/auth/me`, undefined, { authorization: `Bearer ${session.token}` });
  expect(me.body.user.phoneMasked).toBe('137****2222');
});
