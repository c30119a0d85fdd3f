import { getRecord } from './support/records.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../packages/server/src/log.js';
import { postJson, simCode, startStack, type Stack } from './support/stack.js';

/**
 * 同步微信头像昵称 (issue 14): the refresh_token of the official account's web authorization is kept
 * sealed and used to re-read sns/userinfo; 42002 / 40030 ask the person to authorize again
 * (wechat-api-facts.md §5).
 */
const UA = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.49(0x18003129) NetType/WIFI Language/zh_CN';
const lines: string[] = [];
let simNow = Date.now();
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ simClock: () => simNow, overrides: { logger: createLogger((line) => lines.push(line), 'debug') } });
});
afterAll(() => stack.close());

/** snsapi_userinfo login inside WeChat (consent once), as tests/oa-login.test.ts does it. */
async function oaUserinfoLogin(user: string): Promise<{ token: string; user: { id: string; nickname: string | null } }> {
  const start = await fetch(`${stack.apiUrl}/api/auth/oa/start?scope=snsapi_userinfo`, { redirect: 'manual' });
  const cookie = (start.headers.get('set-cookie') ?? '').split(';')[0]!;
  const authorize = new URL(start.headers.get('location')!);
  const state = authorize.searchParams.get('state')!;
  authorize.searchParams.set('sim_user', user);
  const page = await fetch(authorize, { redirect: 'manual', headers: { 'user-agent': UA } });
  let redirect = page.headers.get('location');
  if (page.status !== 302) {
    const ticket = /data-ticket="([A-Za-z0-9]+)"/.exec(await page.text())![1]!;
    const consent = await fetch(`${stack.simUrl}/__sim/oa/consent`, { method: 'POST', redirect: 'manual', body: new URLSearchParams({ ticket, action: 'allow' }), headers: { 'user-agent': UA } });
    redirect = consent.headers.get('location');
  }
  await fetch(redirect!, { redirect: 'manual', headers: { cookie } });
  const session = await postJson(`${stack.apiUrl}/api/auth/oa/session`, { state }, { cookie });
  expect(session.status).toBe(200);
  return session.body;
}
const sync = (token: string) => postJson(`${stack.apiUrl}/api/auth/me/wechat-profile`, {}, { authorization: `Bearer ${token}` });
const setWechatProfile = (user: string, nickname: string) => postJson(`${stack.simUrl}/__sim/users/profile`, { user, nickname });

describe('同步微信头像昵称', () => {
  it('re-reads the WeChat profile with the kept grant (sns/auth while the access_token lives, no refresh)', async () => {
    await setWechatProfile('syncer', '旧昵称');
    const login = await oaUserinfoLogin('syncer');
    expect(login.user.nickname).toBe('旧昵称');
    await setWechatProfile('syncer', '新昵称');
    const before = (await (await fetch(`${stack.simUrl}/__sim/calls`)).json()).sns_refresh_token ?? 0;
    const res = await sync(login.token);
    expect(res.status).toBe(200);
    expect(res.body.user.nickname).toBe('新昵称');
    expect((await (await fetch(`${stack.simUrl}/__sim/calls`)).json()).sns_refresh_token ?? 0).toBe(before);
  });

  it('after the access_token expired: sns/oauth2/refresh_token, then sns/userinfo', async () => {
    const login = await oaUserinfoLogin('syncer2');
    simNow += 3 * 3600_000; // WeChat's 2-hour access_token is gone; the 30-day refresh_token is not
    try {
      await setWechatProfile('syncer2', '刷新后');
      const res = await sync(login.token);
      expect(res.status).toBe(200);
      expect(res.body.user.nickname).toBe('刷新后');
      expect((await (await fetch(`${stack.simUrl}/__sim/calls`)).json()).sns_refresh_token).toBeGreaterThanOrEqual(1);
    } finally {
      simNow = Date.now();
    }
  });

  it('42002 (refresh_token past 30 days): wechat_reauthorize_required, and the grant is dropped', async () => {
    const login = await oaUserinfoLogin('syncer3');
    simNow += 31 * 24 * 3600_000;
    try {
      const res = await sync(login.token);
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ error: { code: 'wechat_reauthorize_required' } });
      expect((await sync(login.token)).body).toMatchObject({ error: { code: 'wechat_reauthorize_required' } });
    } finally {
      simNow = Date.now();
    }
  });

  it('42007 (the person withdrew the authorization in WeChat): wechat_reauthorize_required, the grant is dropped, a new authorization works', async () => {
    const login = await oaUserinfoLogin('withdrawer');
    const openid = (await stack.services.store.accounts.listIdentities(login.user.id)).find((i) => i.appid === stack.oaAppid)!.openid!;
    expect((await postJson(`${stack.simUrl}/__sim/users/revoke`, { appid: stack.oaAppid, user: 'withdrawer' })).status).toBe(200);
    const res = await sync(login.token);
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ error: { code: 'wechat_reauthorize_required' } });
    expect((await getRecord(stack.services.store, `wechat-grant:${stack.oaAppid}:${openid}`))?.value).toMatchObject({ sealed: null, dropped: true });
    expect((await sync(login.token)).body).toMatchObject({ error: { code: 'wechat_reauthorize_required' } });
    // 允许 again (WeChat asks again after a withdrawal): the kept grant is back and syncing works
    const again = await oaUserinfoLogin('withdrawer');
    expect(again.user.id).toBe(login.user.id);
    expect((await sync(again.token)).status).toBe(200);
  });

  it('a mini-program-only account has no grant: wechat_reauthorize_required; no Bearer: 401', async () => {
    expect((await postJson(`${stack.apiUrl}/api/auth/me/wechat-profile`, {})).body).toMatchObject({ error: { code: 'unauthorized' } });
    const mini = await postJson(`${stack.apiUrl}/api/auth/mini/login`, { code: await simCode(stack, 'mini-only') });
    expect((await sync(mini.body.token)).body).toMatchObject({ error: { code: 'wechat_reauthorize_required' } });
  });

  it('WeChat tokens never leave the server: not in responses, logs, or the store in clear', async () => {
    const secrets = stack.sim.web.issuedSecrets;
    expect(secrets.length).toBeGreaterThan(3);
    const logText = lines.join('\n');
    for (const secret of secrets) expect(logText).not.toContain(secret);
    // the kept grant is sealed: its record holds ciphertext only
    const login = await oaUserinfoLogin('syncer4');
    const identities = await stack.services.store.accounts.listIdentities(login.user.id);
    const openid = identities.find((i) => i.appid === stack.oaAppid)!.openid!;
    const record = await getRecord(stack.services.store, `wechat-grant:${stack.oaAppid}:${openid}`);
    expect(record).not.toBeNull();
    const text = JSON.stringify(record);
    for (const secret of stack.sim.web.issuedSecrets) expect(text).not.toContain(secret);
  });

  it('deleting the account drops the kept grant at once (not 30 days later)', async () => {
    const login = await oaUserinfoLogin('leaver');
    const openid = (await stack.services.store.accounts.listIdentities(login.user.id)).find((i) => i.appid === stack.oaAppid)!.openid!;
    const id = `wechat-grant:${stack.oaAppid}:${openid}`;
    expect(await getRecord(stack.services.store, id)).not.toBeNull();
    const res = await fetch(`${stack.apiUrl}/api/auth/me`, { method: 'DELETE', headers: { authorization: `Bearer ${login.token}` } });
    expect(res.status).toBeLessThan(300);
    expect(await getRecord(stack.services.store, id)).toBeNull();
  });

  it("the host's deletion (auth.api.deleteUser → services.deleteUser) drops the kept grant too", async () => {
    const login = await oaUserinfoLogin('removed-by-host');
    const openid = (await stack.services.store.accounts.listIdentities(login.user.id)).find((i) => i.appid === stack.oaAppid)!.openid!;
    const id = `wechat-grant:${stack.oaAppid}:${openid}`;
    expect(await getRecord(stack.services.store, id)).not.toBeNull();
    await stack.services.deleteUser(login.user.id);
    expect(await stack.services.store.accounts.getUser(login.user.id)).toBeNull();
    expect(await getRecord(stack.services.store, id)).toBeNull();
  });
});
