import { afterEach, describe, expect, it } from 'vitest';
import type { Logger } from '../packages/server/src/log.js';
import type { UserRecord } from '../packages/server/src/store/types.js';
import { resolveAccount } from '../packages/server/src/users/accounts.js';
import { postJson, simCode, startStack, type Stack } from './support/stack.js';

/**
 * issue 20: a host that keeps its own user table is told after each account change is stored —
 * `hooks: { userCreated, usersMerged, userDeleted }` in ServerOptions — through real logins, a real
 * late-unionid merge and a real 注销. A hook that throws is logged and never undoes the change.
 */
let stack: Stack;
afterEach(() => stack?.close());

type Event = ['userCreated', string] | ['usersMerged', string, string] | ['userDeleted', string];

function recorder() {
  const events: Event[] = [];
  const stored: string[] = [];
  const hooks = {
    // each hook checks that the change is already stored when it is called
    async userCreated(user: UserRecord) {
      events.push(['userCreated', user.id]);
      if (await stack.services.store.accounts.getUser(user.id)) stored.push(`created ${user.id}`);
    },
    async usersMerged(fromId: string, into: UserRecord) {
      events.push(['usersMerged', fromId, into.id]);
      if ((await stack.services.store.accounts.getUser(fromId))?.mergedInto === into.id) stored.push(`merged ${fromId}`);
    },
    async userDeleted(userId: string) {
      events.push(['userDeleted', userId]);
      if (!(await stack.services.store.accounts.getUser(userId))) stored.push(`deleted ${userId}`);
    },
  };
  return { events, stored, hooks };
}

const login = async (user: string) => (await postJson(`${stack.apiUrl}/api/auth/mini/login`, { code: await simCode(stack, user) })).body;

describe('user hooks for the host\'s own user table', () => {
  it('userCreated fires once for a new account, never for a returning login', async () => {
    const { events, stored, hooks } = recorder();
    stack = await startStack({ serverOptions: { hooks } });
    const first = await login('ann');
    expect(first.isNewUser).toBe(true);
    await login('ann');
    await login('ann');
    expect(events).toEqual([['userCreated', first.user.id]]);
    expect(stored).toEqual([`created ${first.user.id}`]);
  });

  it('usersMerged fires once when a late unionid merges two accounts, with the survivor', async () => {
    const { events, stored, hooks } = recorder();
    stack = await startStack({ openPlatformId: null, serverOptions: { hooks } });
    const mini = await login('lee');
    stack.sim.apps.get(stack.appid)!.openPlatformId = 'open-platform-1';
    const unionid = stack.sim.unionid(stack.sim.apps.get(stack.appid)!, 'lee')!;
    // the website door saw this person first (its own account, created outside the server's hooks)
    const web = await resolveAccount(stack.services.store, { appid: 'wx00000000000000aa', openid: 'web-lee', unionid }, { nickname: null, avatarUrl: null }, new Date());
    const again = await login('lee'); // the mini-program login now brings the unionid: merge
    expect(again.user.id).toBe(web.user.id);
    await login('lee');
    expect(events).toEqual([
      ['userCreated', mini.user.id],
      ['usersMerged', mini.user.id, web.user.id],
    ]);
    expect(stored).toEqual([`created ${mini.user.id}`, `merged ${mini.user.id}`]);
  });

  it('userDeleted fires once per deleted account after 注销 is stored', async () => {
    const { events, stored, hooks } = recorder();
    stack = await startStack({ serverOptions: { hooks } });
    const me = await login('del');
    const res = await fetch(`${stack.apiUrl}/api/auth/me`, { method: 'DELETE', headers: { authorization: `Bearer ${me.token}` } });
    expect(res.status).toBe(204);
    expect(events).toEqual([['userCreated', me.user.id], ['userDeleted', me.user.id]]);
    expect(stored).toEqual([`created ${me.user.id}`, `deleted ${me.user.id}`]);
  });

  it('a hook that throws is logged and loses nothing: the login, the merge and the deletion stand', async () => {
    const lines: { level: string; event: string; hook?: unknown }[] = [];
    const logger: Logger = { log: (level, event, fields) => void lines.push({ level, event, ...fields }) };
    const boom = () => {
      throw new Error('host table down');
    };
    stack = await startStack({
      openPlatformId: null,
      serverOptions: { hooks: { userCreated: boom, usersMerged: async () => Promise.reject(new Error('host table down')), userDeleted: boom } },
      overrides: { logger },
    });
    const first = await login('kim');
    expect(first.token).toBeTruthy();
    expect(first.isNewUser).toBe(true);
    expect((await fetch(`${stack.apiUrl}/api/auth/me`, { headers: { authorization: `Bearer ${first.token}` } })).status).toBe(200);
    expect(await stack.services.store.accounts.getIdentity(`oid:${stack.appid}:${stack.sim.openid(stack.appid, 'kim')}`)).not.toBeNull();

    stack.sim.apps.get(stack.appid)!.openPlatformId = 'open-platform-1';
    const unionid = stack.sim.unionid(stack.sim.apps.get(stack.appid)!, 'kim')!;
    const web = await resolveAccount(stack.services.store, { appid: 'wx00000000000000aa', openid: 'web-kim', unionid }, { nickname: null, avatarUrl: null }, new Date());
    const merged = await login('kim');
    expect(merged.user.id).toBe(web.user.id);
    expect((await stack.services.store.accounts.getUser(first.user.id))?.mergedInto).toBe(web.user.id);

    expect((await fetch(`${stack.apiUrl}/api/auth/me`, { method: 'DELETE', headers: { authorization: `Bearer ${merged.token}` } })).status).toBe(204);
    expect(await stack.services.store.accounts.getUser(web.user.id)).toBeNull();
    expect(await stack.services.store.accounts.getUser(first.user.id)).toBeNull();

    const failures = lines.filter((l) => l.event === 'user.hook_failed');
    expect(failures.map((l) => [l.level, l.hook])).toEqual([
      ['error', 'userCreated'],
      ['error', 'usersMerged'],
      ['error', 'userDeleted'],
      ['error', 'userDeleted'],
    ]);
  });
});
