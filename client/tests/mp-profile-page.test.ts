// The compiled profile page: chooseAvatar + <input type="nickname"> in a <form>, saved through
// the API with methods wx.request has (uploadFile → POST /api/auth/me/avatar, PUT /api/auth/me), then the
// account page. An avatar that fails to load shows the placeholder, not a blank slot.
import sharp from 'sharp';
import { expect, it, vi } from 'vitest';
import { createFakeWx, httpJson, loadPage, simulatorLogin } from './support/mp';
import { apiLogin, useScenario } from './support/scenario';

const scenario = useScenario();

it('Should save the chosen avatar file and nickname through the API', async () => {
  const { stack, dist } = scenario;
  const session = await apiLogin(stack, 'mp-profile-user');
  const fake = createFakeWx({ apiUrl: stack.apiUrl, login: simulatorLogin(stack.simUrl, stack.appid, 'mp-profile-user') });
  fake.privacy.agreed = true;
  fake.storage.set('auth.session', session);
  const view = await loadPage(dist, 'uni_modules/wlu-wxlogin/pages/profile/index', fake);
  expect(view.text()).toContain('设置头像和昵称');

  const blue = await sharp({ create: { width: 40, height: 30, channels: 3, background: { r: 10, g: 30, b: 220 } } }).png().toBuffer();
  await view.tapGated('.avatar-btn', 'chooseavatar', { avatarUrl: fake.addTempFile(blue) }, 'chooseAvatar');
  // the preview image fails to load (e.g. a temp file gone): the placeholder comes back
  view.find('.avatar')!.dispatchEvent('error', { detail: { errMsg: 'GET wxfile://… 404' } });
  await vi.waitFor(() => expect(view.text()).toContain('选择头像'));
  await view.tapGated('.avatar-btn', 'chooseavatar', { avatarUrl: fake.addTempFile(blue) }, 'chooseAvatar');
  await view.tap('.form', 'submit', { value: { nickname: '小明' } });

  await view.app.waitFor('pages/account/index', 10_000);
  expect(fake.calls.uploads).toHaveLength(1);
  expect(fake.calls.request.find((r) => r.url === '/api/auth/me/avatar')?.header.authorization).toBe(`Bearer ${session.token}`);
  expect(fake.calls.request.filter((r) => r.url === '/api/auth/me').map((r) => r.method)).toEqual(['PUT', 'GET']);
  const me = await httpJson('GET', `${stack.apiUrl}/api/auth/me`, undefined, { authorization: `Bearer ${session.token}` });
  expect(me.body.user).toMatchObject({ nickname: '小明', avatarUrl: expect.stringMatching(/^\/api\/auth\/avatars\/[0-9a-f]{32}\.jpg$/), profileComplete: true });
  const stats = await sharp(Buffer.from(await (await fetch(`${stack.apiUrl}${me.body.user.avatarUrl}`)).arrayBuffer())).stats();
  expect(stats.channels[2]!.mean).toBeGreaterThan(170); // the blue file chosen, not a stand-in
  expect((fake.storage.get('auth.session') as { user: { nickname: string } }).user.nickname).toBe('小明');
});
