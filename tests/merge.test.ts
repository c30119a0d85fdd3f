import { afterEach, describe, expect, it } from 'vitest';
import { openidKey, resolveAccount, unionidKey } from '../packages/server/src/users/accounts.js';
import { postJson, simCode, startStack, type Stack } from './support/stack.js';

/**
 * The website / official-account doors are other apps under the same open platform: here they are
 * played by resolveAccount with another appid, which is exactly what their flows call.
 */
const OA_APPID = 'wx00000000000000aa';
let stack: Stack;
afterEach(() => stack?.close());

const login = async (user: string) => (await postJson(`${stack.apiUrl}/api/auth/mini/login`, { code: await simCode(stack, user) })).body;
const oaDoor = (openid: string, unionid: string, nickname: string | null = null) =>
  resolveAccount(stack.services.store, { appid: OA_APPID, openid, unionid }, { nickname, avatarUrl: null }, new Date());
function bindOpenPlatform() {
  stack.sim.apps.get(stack.appid)!.openPlatformId = 'open-platform-1';
  return stack.sim.unionid(stack.sim.apps.get(stack.appid)!, 'lee')!;
}

describe('a unionid that arrives late merges two accounts into one', () => {
  it('keeps the survivor\'s profile, fills what it lacks, and moves identities and sessions', async () => {
    stack = await startStack({ openPlatformId: null });
    const mini = await login('lee');
    await fetch(`${stack.apiUrl}/api/auth/me`, { method: 'PATCH', headers: { authorization: `Bearer ${mini.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ nickname: '小李' }) });
    const phoneCode = (await postJson(`${stack.simUrl}/__sim/mini/phone-code`, { appid: stack.appid, user: 'lee', phone: '13800001111' })).body.code;
    await postJson(`${stack.apiUrl}/api/auth/me/phone`, { code: phoneCode }, { authorization: `Bearer ${mini.token}` });

    const unionid = bindOpenPlatform();
    const oa = await oaDoor('oa-openid-lee', unionid); // the person logs in on the website first: account B, no profile
    expect(oa.user.id).not.toBe(mini.user.id);

    const again = await login('lee'); // mini-program login now brings the unionid
    expect(again.user.id).toBe(oa.user.id);
    expect(again.user).toMatchObject({ nickname: '小李', phoneMasked: '138****1111' });
    expect(again.isNewUser).toBe(false);

    const store = stack.services.store;
    expect((await store.accounts.getUser(mini.user.id))!.mergedInto).toBe(oa.user.id);
    expect((await store.accounts.getIdentity(openidKey(stack.appid, stack.sim.openid(stack.appid, 'lee'))))!.userId).toBe(oa.user.id);
    expect((await store.accounts.getIdentity(unionidKey(unionid)))!.userId).toBe(oa.user.id);
    // the old mini-program session now opens the merged account
    const me = await (await fetch(`${stack.apiUrl}/api/auth/me`, { headers: { authorization: `Bearer ${mini.token}` } })).json();
    expect(me.user.id).toBe(oa.user.id);
  });

  it('two doors racing on a brand-new person end as one account', async () => {
    stack = await startStack({ openPlatformId: 'open-platform-1' });
    const unionid = stack.sim.unionid(stack.sim.apps.get(stack.appid)!, 'racer')!;
    const code = await simCode(stack, 'racer');
    const [mini, oa] = await Promise.all([
      postJson(`${stack.apiUrl}/api/auth/mini/login`, { code }),
      oaDoor('oa-openid-racer', unionid, '网页用户'),
    ]);
    const holder = (await stack.services.store.accounts.getIdentity(unionidKey(unionid)))!.userId;
    const miniLink = await stack.services.store.accounts.getIdentity(openidKey(stack.appid, stack.sim.openid(stack.appid, 'racer')));
    const oaLink = await stack.services.store.accounts.getIdentity(openidKey(OA_APPID, 'oa-openid-racer'));
    expect([miniLink!.userId, oaLink!.userId]).toEqual([holder, holder]);
    expect([mini.body.user.id, oa.user.id]).toContain(holder);
    const next = await login('racer');
    expect(next.user.id).toBe(holder);
  });

  it('two merging logins at once leave one account with everything', async () => {
    stack = await startStack({ openPlatformId: null });
    const mini = await login('lee');
    const unionid = bindOpenPlatform();
    const oa = await oaDoor('oa-openid-lee', unionid, '网页小李');
    const codes = await Promise.all([simCode(stack, 'lee'), simCode(stack, 'lee')]);
    const results = await Promise.all(codes.map((code) => postJson(`${stack.apiUrl}/api/auth/mini/login`, { code })));
    expect(results.map((r) => r.body.user.id)).toEqual([oa.user.id, oa.user.id]);
    expect((await stack.services.store.accounts.getUser(mini.user.id))!.mergedInto).toBe(oa.user.id);
    expect((await stack.services.store.accounts.listIdentities(oa.user.id)).map((i) => i.key).sort()).toHaveLength(3);
    expect(await stack.services.store.accounts.listIdentities(mini.user.id)).toEqual([]);
  });

  it('client-supplied data never triggers a merge', async () => {
    stack = await startStack({ openPlatformId: null });
    const victim = await oaDoor('oa-victim', 'oVictimUnionid000000000000000');
    const res = await postJson(`${stack.apiUrl}/api/auth/mini/login`, { code: await simCode(stack, 'attacker'), profile: { nickName: 'x', unionid: 'oVictimUnionid000000000000000', unionId: 'oVictimUnionid000000000000000' } });
    expect(res.status).toBe(200);
    expect(res.body.user.id).not.toBe(victim.user.id);
  });
});
