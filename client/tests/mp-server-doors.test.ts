// The compiled mp-weixin login page shows 微信登录 only when the server lists this mini-program's
// door (GET /api/auth/doors, the `miniProgram` option's name, default `mini`): no button while the
// answer is on its way, a note when the server has no such door, and the host's options (the
// button) with 服务暂时不可用 when the server cannot say.
import { createServer, type Server } from 'node:http';
import { afterEach, expect, it, vi } from 'vitest';
import { createFakeWx, loadPage, simulatorLogin } from './support/mp';
import { useScenario } from './support/scenario';

const scenario = useScenario();
const LOGIN = 'uni_modules/wlu-wxlogin/pages/login/index';

/** An API whose GET /api/auth/doors answers what the test says, when the test says. */
async function doorsServer(answer: () => Promise<{ status: number; body: unknown }>): Promise<{ url: string; asked: () => number; close(): Promise<void> }> {
  let asked = 0;
  const server: Server = createServer((req, res) => {
    if (req.url !== '/api/auth/doors') return void res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"code":"not_found","message":"接口不存在"}}');
    asked++;
    void answer().then(({ status, body }) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body)));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, asked: () => asked, close: () => new Promise<void>((r) => server.close(() => r())) };
}

let api: Awaited<ReturnType<typeof doorsServer>> | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

it('Should show no 微信登录 button while the doors are on their way, then the button for the listed mini door', async () => {
  const { stack, dist } = scenario;
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  api = await doorsServer(async () => {
    await released;
    return { status: 200, body: { doors: [{ name: 'mini', kind: 'mini', appid: stack.appid }] } };
  });
  const fake = createFakeWx({ apiUrl: api.url, login: simulatorLogin(stack.simUrl, stack.appid, 'mp-doors-pending') });
  const view = await loadPage(dist, LOGIN, fake);
  await vi.waitFor(() => expect(api!.asked()).toBe(1));
  await new Promise((r) => setTimeout(r, 200));
  expect(view.find('.login-btn')).toBeNull(); // pending: no button that might not work
  expect(view.find('.agree-check')).toBeNull();
  expect(view.text()).toContain('暂不登录');
  release();
  await vi.waitFor(() => expect(view.find('.login-btn')).not.toBeNull());
  expect(view.text()).toContain('微信登录');
  expect(api.asked()).toBe(1);
});

it('Should show no 微信登录 button when the server lists no door for this mini-program', async () => {
  const { stack, dist } = scenario;
  // another mini-program of the same account, and the browser doors: none is this one ('mini')
  api = await doorsServer(async () => ({ status: 200, body: { doors: [{ name: 'mini-shop', kind: 'mini', appid: 'wx00000000000000aa' }, { name: 'oa', kind: 'oa', appid: 'wx00000000000000bb' }] } }));
  const fake = createFakeWx({ apiUrl: api.url, login: simulatorLogin(stack.simUrl, stack.appid, 'mp-doors-none') });
  const view = await loadPage(dist, LOGIN, fake);
  await vi.waitFor(() => expect(view.text()).toContain('本小程序暂未开放微信登录，请稍后再试'));
  expect(view.find('.login-btn')).toBeNull();
  expect(view.find('.agree-check')).toBeNull();
  expect(fake.calls.login).toBe(0);
});

it('Should fall back to the host\'s options (the button) and say 服务暂时不可用 when /doors fails', async () => {
  const { stack, dist } = scenario;
  api = await doorsServer(async () => ({ status: 503, body: 'down' }));
  const fake = createFakeWx({ apiUrl: api.url, login: simulatorLogin(stack.simUrl, stack.appid, 'mp-doors-down') });
  const view = await loadPage(dist, LOGIN, fake);
  await vi.waitFor(() => expect(view.text()).toContain('服务暂时不可用，请稍后再试'));
  expect(view.find('.login-btn')).not.toBeNull();
  // the API is back: the same button logs in (the mini door the host assumed exists)
  fake.behaviour.apiUrl = stack.apiUrl;
  await view.tap('.agree-check');
  await vi.waitFor(() => expect(view.find('.agree-checked')).not.toBeNull());
  await view.tap('.login-btn');
  await vi.waitFor(() => expect(view.text()).toContain('登录成功'), { timeout: 10_000 });
});
