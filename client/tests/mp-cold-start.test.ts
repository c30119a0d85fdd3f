// Cold starts of a logged-in person on the compiled bundle: wx.login only when a login is
// actually coming (none while WeChat's login state is valid, exactly one when checkSession fails),
// and the session's current expiry learned from GET /api/auth/me (sliding sessions).
import { expect, it, vi } from 'vitest';
import { createFakeWx, loadPage, simulatorLogin } from './support/mp';
import { apiLogin, useScenario } from './support/scenario';

const scenario = useScenario();

it('Should not call wx.login on a cold start while checkSession is fine, and update the expiry from /api/auth/me', async () => {
  const { stack, dist } = scenario;
  const session = await apiLogin(stack, 'mp-cold-user');
  const fake = createFakeWx({ apiUrl: stack.apiUrl, login: simulatorLogin(stack.simUrl, stack.appid, 'mp-cold-user') });
  // the device still has the expiry it got at login, 29 days ago in its eyes: only one day left
  const stale = new Date(Date.now() + 24 * 3600_000).toISOString();
  fake.storage.set('auth.session', { ...session, expiresAt: stale });
  const home = await loadPage(dist, 'pages/index/index', fake);
  await vi.waitFor(() => expect(fake.calls.checkSession).toBe(1));
  fake.wx.switchTab({ url: '/pages/account/index' });
  const account = await home.app.waitFor('pages/account/index');
  await vi.waitFor(() => expect(fake.calls.request.some((r) => r.url === '/api/auth/me')).toBe(true));
  await vi.waitFor(() => expect((fake.storage.get('auth.session') as { expiresAt: string }).expiresAt).toBe(session.expiresAt));
  expect(account.text()).toContain('退出登录');
  expect(fake.calls.login).toBe(0);
});

it('Should make exactly one wx.login when checkSession fails at start', async () => {
  const { stack, dist } = scenario;
  const session = await apiLogin(stack, 'mp-cold-user-2');
  const fake = createFakeWx({ apiUrl: stack.apiUrl, login: simulatorLogin(stack.simUrl, stack.appid, 'mp-cold-user-2'), checkSession: () => false });
  fake.storage.set('auth.session', session);
  await loadPage(dist, 'pages/index/index', fake);
  await vi.waitFor(() => expect(fake.calls.request.filter((r) => r.url === '/api/auth/mini/login')).toHaveLength(1));
  await new Promise((r) => setTimeout(r, 300));
  expect(fake.calls.login).toBe(1);
  expect((fake.storage.get('auth.session') as { token: string }).token).not.toBe(session.token);
});

it('Should not call wx.login or checkSession at all for someone who never logged in', async () => {
  const { stack, dist } = scenario;
  const fake = createFakeWx({ apiUrl: stack.apiUrl, login: simulatorLogin(stack.simUrl, stack.appid, 'nobody') });
  await loadPage(dist, 'pages/index/index', fake);
  await new Promise((r) => setTimeout(r, 300));
  expect(fake.calls.login).toBe(0);
  expect(fake.calls.checkSession).toBe(0);
  expect(fake.calls.request).toEqual([]);
});
