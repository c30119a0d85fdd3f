// The API cannot be reached (server down / no network): the compiled page shows
// 网络不可用，请重试, stores nothing, and the button can be tapped again.
import { createServer } from 'node:net';
import { expect, it, vi } from 'vitest';
import { createFakeWx, loadPage, simulatorLogin } from './support/mp';
import { useScenario } from './support/scenario';

const scenario = useScenario();

/** A local port nothing listens on. */
function deadPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

it('Should show 网络不可用，请重试 when the API is down', async () => {
  const { stack, dist } = scenario;
  const fake = createFakeWx({
    apiUrl: `http://127.0.0.1:${await deadPort()}`,
    login: simulatorLogin(stack.simUrl, stack.appid, 'mp-offline-user'),
  });
  const view = await loadPage(dist, 'uni_modules/wlu-wxlogin/pages/login/index', fake);

  await view.tap('.agree-check'); // 我已阅读并同意…
  await vi.waitFor(() => expect(view.find('.agree-checked')).not.toBeNull());
  await view.tap('.login-btn');
  await vi.waitFor(() => expect(view.text()).toContain('网络不可用，请重试'), { timeout: 15_000 });

  expect(fake.storage.has('auth.session')).toBe(false);
  expect(view.text()).not.toContain('登录中…');
  expect(fake.calls.navigation).toEqual([]);
  // one login request, no retry storm
  expect(fake.calls.request.filter((r) => r.url === '/api/auth/mini/login')).toHaveLength(1);

  // the API is back: the same button works
  fake.behaviour.apiUrl = stack.apiUrl;
  await view.tap('.login-btn');
  await vi.waitFor(() => expect(view.text()).toContain('登录成功'), { timeout: 10_000 });
  await view.app.waitFor('uni_modules/wlu-wxlogin/pages/profile/index');
});
