// The compiled account page: 绑定手机号 (open-type="getPhoneNumber") → e.detail.code → API →
// WeChat's getuserphonenumber (simulated) → the masked number on the page; refusal shows a message.
import { expect, it, vi } from 'vitest';
import { createFakeWx, httpJson, loadPage, postJson, simulatorLogin } from './support/mp';
import { apiLogin, useScenario } from './support/scenario';

const scenario = useScenario();

it('Should save the phone number the person agreed to share, and explain a refusal', async () => {
  const { stack, dist } = scenario;
  const session = await apiLogin(stack, 'mp-phone-user');
  const fake = createFakeWx({ apiUrl: stack.apiUrl, login: simulatorLogin(stack.simUrl, stack.appid, 'mp-phone-user') });
  fake.storage.set('auth.session', session);
  const view = await loadPage(dist, 'pages/account/index', fake);
  await vi.waitFor(() => expect(view.text()).toContain('绑定手机号'), { timeout: 10_000 });

  await view.tap('.phone-btn', 'getphonenumber', { errMsg: 'getPhoneNumber:fail user deny' });
  await vi.waitFor(() => expect(view.text()).toContain('已取消授权手机号'), { timeout: 10_000 });

  const { body } = await postJson(`${stack.simUrl}/__sim/mini/phone-code`, { appid: stack.appid, user: 'mp-phone-user', phone: '13700002222' });
  await view.tap('.phone-btn', 'getphonenumber', { errMsg: 'getPhoneNumber:ok', code: body.code });
  await vi.waitFor(() => expect(view.text()).toContain('137****2222'), { timeout: 10_000 });
  const me = await httpJson('GET', `${stack.apiUrl}/api/me`, undefined, { authorization: `Bearer ${session.token}` });
  expect(me.body.user.phoneMasked).toBe('137****2222');
});
