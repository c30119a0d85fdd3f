// The compiled profile page: chooseAvatar + <input type="nickname"> in a <form>, saved through
// the API (uploadFile → POST /api/me/avatar, PATCH /api/me), then the account page.
import { expect, it, vi } from 'vitest';
import { createFakeWx, httpJson, loadPage, simulatorLogin } from './support/mp';
import { apiLogin, useScenario } from './support/scenario';

const scenario = useScenario();

it('Should save the chosen avatar and nickname through the API', async () => {
  const { stack, dist } = scenario;
  const session = await apiLogin(stack, 'mp-profile-user');
  const fake = createFakeWx({ apiUrl: stack.apiUrl, login: simulatorLogin(stack.simUrl, stack.appid, 'mp-profile-user') });
  fake.storage.set('auth.session', session);
  const view = await loadPage(dist, 'pages/profile/index', fake);
  expect(view.text()).toContain('设置头像和昵称');
  expect(view.find('.nickname')).not.toBeNull();

  await view.tap('.avatar-btn', 'chooseavatar', { avatarUrl: 'http://tmp/avatar.png' });
  await view.tap('.form', 'submit', { value: { nickname: '小明' } });

  await vi.waitFor(() => expect(fake.calls.navigation).toContainEqual({ api: 'reLaunch', url: '/pages/account/index' }), { timeout: 10_000 });
  const upload = fake.calls.request.find((r) => r.url === '/api/me/avatar');
  expect(upload?.header.authorization).toBe(`Bearer ${session.token}`);
  const me = await httpJson('GET', `${stack.apiUrl}/api/me`, undefined, { authorization: `Bearer ${session.token}` });
  expect(me.body.user).toMatchObject({ nickname: '小明', avatarUrl: expect.stringMatching(/^\/api\/avatars\/[0-9a-f]{32}\.jpg$/), profileComplete: true });
  expect((fake.storage.get('auth.session') as { user: { nickname: string } }).user.nickname).toBe('小明');
});
