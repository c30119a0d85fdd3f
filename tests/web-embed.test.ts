import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJson, startStack, type Stack } from './support/stack.js';

/**
 * WeChat's QR inside our page (WxLogin, issue 13 §1) over real HTTP. wechat-api-facts.md §4: the
 * options, the iframe of qrconnect?…&login_type=jssdk, self_redirect true = the callback loads in
 * the iframe (where the SameSite state cookie is not sent).
 */
let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack.close());

async function embed(selfRedirect: boolean) {
  const res = await fetch(`${stack.apiUrl}/api/auth/web/embed`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ selfRedirect, next: '/uni_modules/wlu-wxlogin/pages/profile/index' }) });
  expect(res.status).toBe(200);
  const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0]!;
  return { options: (await res.json()) as { appid: string; scope: string; redirectUri: string; state: string; scriptUrl: string; selfRedirect: boolean }, cookie };
}

/** WxLogin's iframe page for these options, scanned and confirmed: WeChat's redirect to our callback. */
async function confirmedRedirect(options: { appid: string; scope: string; redirectUri: string; state: string }, selfRedirect: boolean, user: string): Promise<string> {
  const url = `${stack.simUrl}/connect/qrconnect?appid=${options.appid}&scope=${options.scope}&redirect_uri=${encodeURIComponent(options.redirectUri)}&state=${options.state}&login_type=jssdk&self_redirect=${selfRedirect}&style=white&stylelite=1`;
  const html = await (await fetch(url)).text();
  expect(html).toContain('请使用微信扫一扫登录');
  expect(html).toContain(`data-self-redirect="${selfRedirect}"`);
  expect(html).toContain('data-style="white"');
  const uuid = /data-uuid="([0-9a-f]+)"/.exec(html)![1]!;
  expect((await postJson(`${stack.simUrl}/__sim/web/scan`, { uuid, user })).status).toBe(200);
  expect((await postJson(`${stack.simUrl}/__sim/web/confirm`, { uuid })).status).toBe(200);
  const polled = (await (await fetch(`${stack.simUrl}/connect/qrconnect/status/${uuid}`)).json()) as { redirectUrl: string };
  return polled.redirectUrl;
}

describe('WxLogin options and the simulator script', () => {
  it('Should hand out the WxLogin options with the state bound to this browser, and the simulator should serve a WxLogin script', async () => {
    const { options, cookie } = await embed(true);
    expect(options).toMatchObject({ appid: stack.webAppid, scope: 'snsapi_login', redirectUri: `${stack.apiUrl}/api/auth/web/callback`, selfRedirect: true });
    expect(options.scriptUrl).toBe(`${stack.simUrl}/connect/zh_CN/htmledition/js/wxLogin.js`);
    expect(cookie).toBe(`wx_web_state=${options.state}`);
    const script = await fetch(options.scriptUrl);
    expect(script.headers.get('content-type')).toMatch(/javascript/);
    const text = await script.text();
    expect(text).toContain('window.WxLogin');
    expect(text).toContain('login_type=jssdk');
  });

  it('Should ignore a custom stylesheet (href) with stylelite=1 and apply it otherwise (wechat-api-facts.md §4)', async () => {
    const { options } = await embed(false);
    const css = `data:text/css;base64,${Buffer.from('.title{display:none}').toString('base64')}`;
    const base = `${stack.simUrl}/connect/qrconnect?appid=${options.appid}&scope=snsapi_login&redirect_uri=${encodeURIComponent(options.redirectUri)}&state=${options.state}&login_type=jssdk&self_redirect=false&href=${encodeURIComponent(css)}`;
    expect(await (await fetch(base)).text()).toContain('data-custom-css="1"');
    expect(await (await fetch(`${base}&stylelite=1`)).text()).toContain('data-custom-css="0"');
  });
});

describe('self_redirect true: the callback in a cross-site iframe, without the cookie', () => {
  it('Should tell the parent (by origin) that the login is ready — no state, code or token — and hand the session only to the cookie', async () => {
    const { options, cookie } = await embed(true);
    const redirect = await confirmedRedirect(options, true, 'embed-frame');
    // inside the iframe: no cookie (SameSite), Sec-Fetch-Dest: iframe
    const res = await fetch(redirect, { redirect: 'manual', headers: { 'sec-fetch-dest': 'iframe' } });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'self'");
    expect(html).toContain('parent.postMessage({"type":"wechat-login","door":"web","ok":true}');
    expect(html).toContain(JSON.stringify(stack.apiUrl)); // the target origin: our own
    const code = new URL(redirect).searchParams.get('code')!;
    expect(html).not.toContain(code);
    expect(html).not.toContain(options.state);
    // another browser (no cookie) gets nothing for the state
    expect((await postJson(`${stack.apiUrl}/api/auth/web/session`, { state: options.state })).body).toMatchObject({ error: { code: 'web_login_state_invalid' } });
    // the top window, which has the cookie, collects it once
    const taken = await postJson(`${stack.apiUrl}/api/auth/web/session`, { state: options.state }, { cookie });
    expect(taken.status).toBe(200);
    expect(taken.body.user.nickname).toBe('embed-frame');
    expect((await postJson(`${stack.apiUrl}/api/auth/web/session`, { state: options.state }, { cookie })).status).toBe(409);
    // the same callback again (a reload of the iframe): used
    const again = await fetch(redirect, { redirect: 'manual', headers: { 'sec-fetch-dest': 'iframe' } });
    expect(await again.text()).toContain('"ok":false');
  });

  it('Should not accept a callback without the cookie for a state that was not started for the iframe', async () => {
    const { options } = await embed(false);
    const redirect = await confirmedRedirect(options, false, 'embed-top');
    const res = await fetch(redirect, { redirect: 'manual' });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe('/uni_modules/wlu-wxlogin/pages/login/index?web_login_error=web_login_state_invalid#');
  });

  it('Should answer a bad embed request with a clear error', async () => {
    const res = await postJson(`${stack.apiUrl}/api/auth/web/embed`, { selfRedirect: 'yes' });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: { code: 'invalid_request' } });
  });
});
