import { storeStats } from './support/records.js';
import { getRecord } from './support/records.js';
import { metered } from './support/records.js';
import { describe, expect, it, vi } from 'vitest';
import type { AppError } from '../packages/server/src/errors.js';
import { randomBytes } from 'node:crypto';
import { completeOAuthCallback, ConsentRequiredError, startOAuthLogin, takeOAuthHandoff, type OAuthDoor, type OAuthLoginDeps } from '../packages/server/src/flows/oauth/login.js';
import { createSealer, parseSealKeys } from '../packages/server/src/crypto/seal.js';
import { OA_DOOR } from '../packages/server/src/flows/oa/door.js';
import { WEB_DOOR } from '../packages/server/src/flows/web/door.js';
import type { Logger } from '../packages/server/src/log.js';
import { createSessionManager } from '../packages/server/src/sessions/sessions.js';
import { EmbeddedStore } from '../packages/server/src/store/embedded.js';
import { StoreUnavailableError, type Storage } from '../packages/server/src/store/types.js';
import type { OAuthAccessToken } from '../packages/server/src/wechat/sns/oauth2_access_token.js';
import type { SnsUserInfo } from '../packages/server/src/wechat/sns/userinfo.js';
import { codeOf } from './support/app-error.js';

// The browser OAuth doors (website QR login, official-account H5) without HTTP: start → callback →
// handoff (docs/API.md, docs/WECHAT.md "Browser OAuth"). Each test names what a person or an
// attacker would see; the store can be made to fail or lose a race at one chosen call.
const APPID = 'wx00000000000000c3';
const AVATAR = 'https://thirdwx.qlogo.cn/mmopen/vi_32/abc/132';

interface Line {
  level: string;
  event: string;
  [field: string]: unknown;
}

function harness(door: OAuthDoor = WEB_DOOR, options: { wx?: Partial<OAuthAccessToken>; info?: Partial<SnsUserInfo> | Error; hook?: (prop: string, args: unknown[]) => unknown } = {}) {
  const clock = { t: 1_800_000_000_000 };
  const inner = new EmbeddedStore({ dir: null });
  // hooks see the calls by their flow meaning: a used state's claim, a record write, a user read
  const store = metered(inner, (call, args) => {
    const prop = call === 'records.put' ? (String(args[0]).includes('-state-used:') ? 'claim' : 'compareAndSetRecord') : call.slice(call.indexOf('.') + 1);
    const hooked = options.hook?.(prop, args);
    return hooked === undefined ? undefined : Promise.resolve(hooked).then((v) => (v === false ? null : v));
  });
  const lines: Line[] = [];
  const logger: Logger = { log: (level, event, fields) => lines.push({ level, event, ...fields }) };
  const exchanged: string[] = [];
  const userinfoCalls: string[] = [];
  const openid = `o-${door.name}-1`;
  const deps: OAuthLoginDeps = {
    door,
    appid: APPID,
    openBaseUrl: 'https://open.weixin.qq.com',
    store,
    sessions: createSessionManager(store, () => new Date(clock.t)),
    logger,
    clock: () => new Date(clock.t),
    exchangeCode: async (code) => {
      exchanged.push(code);
      return { accessToken: 'AT', refreshToken: 'RT', expiresIn: 7200, openid, unionid: null, scope: door.scopes[door.scopes.length - 1]!, snapshotUser: false, ...options.wx };
    },
    getUserInfo: async (_token, id) => {
      userinfoCalls.push(id);
      if (options.info instanceof Error) throw options.info;
      return { openid: id, nickname: '微信昵称', headimgurl: AVATAR, unionid: null, language: 'zh_CN', ...options.info };
    },
  };
  const start = async () => (await startOAuthLogin(deps, { redirectUri: 'https://api.example.com/cb', next: '/pages/account/index' })).state;
  const callback = (state: string, code = 'CODE_1') => completeOAuthCallback(deps, { code, state, cookieState: state });
  const handoff = (state: string) => takeOAuthHandoff(deps, { state, cookieState: state });
  return { deps, inner, clock, lines, exchanged, userinfoCalls, openid, start, callback, handoff };
}

describe('OAuth start', () => {
  it('a state the store refuses to write gives no authorize URL: internal_error', async () => {
    const h = harness(WEB_DOOR, { hook: (prop) => (prop === 'compareAndSetRecord' ? Promise.resolve(false) : undefined) });
    expect(await codeOf(h.start())).toBe('internal_error');
  });
});

describe('OAuth callback', () => {
  it('a state missing on either side, or not 32 letters and digits, is state_invalid — never a crash', async () => {
    const h = harness();
    const state = await h.start();
    const cases: Array<[string | undefined, string | undefined]> = [
      [state, undefined],
      [undefined, state],
      [`${state}x`, `${state}x`],
      [state, `${state.slice(0, 31)}`],
      [state.slice(0, 31), state],
    ];
    for (const [s, cookie] of cases) {
      expect(await codeOf(completeOAuthCallback(h.deps, { code: 'C', state: s, cookieState: cookie }))).toBe('web_login_state_invalid');
      expect(await codeOf(takeOAuthHandoff(h.deps, { state: s as string, cookieState: cookie }))).toBe('web_login_state_invalid');
    }
    expect(h.exchanged).toEqual([]);
  });

  it('a code that is not 1–256 characters of A–Z a–z 0–9 _ - is code_invalid, and WeChat is not asked', async () => {
    for (const code of ['abc$', '$abc', 'ab c', 'x'.repeat(257), 'abc\n']) {
      const h = harness();
      expect(await codeOf(h.callback(await h.start(), code)), JSON.stringify(code)).toBe('code_invalid');
      expect(h.exchanged).toEqual([]);
    }
    const h = harness();
    await h.callback(await h.start(), `${'x'.repeat(254)}_-`);
    expect(h.exchanged).toHaveLength(1);
  });

  it('a callback replayed after its one-time claim lapsed is still state_used: the login record remembers, WeChat is not asked again', async () => {
    // The stores judge expiry by the machine's clock, so it moves with the flow's clock here.
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      for (const taken of [false, true]) {
        const h = harness();
        const at = (t: number) => {
          h.clock.t = t;
          vi.setSystemTime(t);
        };
        const s0 = 1_800_000_000_000;
        at(s0);
        const state = await h.start();
        at(s0 + 599_000); // the callback comes at 9:59, in time
        await h.callback(state);
        if (taken) await h.handoff(state);
        // 10:01: the one-time claim lived as long as the state and has lapsed; the login record
        // (handoff 60 s, taken 10 min) has not.
        at(s0 + 601_000);
        expect(await codeOf(h.callback(state, 'CODE_2')), `taken: ${taken}`).toBe('web_login_state_used');
        expect(h.exchanged).toEqual(['CODE_1']);
      }
    } finally {
      vi.useRealTimers();
    }
  });

  it('a store outage while claiming the state is a store error (503), not "already used"', async () => {
    const h = harness(WEB_DOOR, { hook: (prop) => (prop === 'claim' ? Promise.reject(new StoreUnavailableError('down')) : undefined) });
    let error: unknown;
    try {
      await h.callback(await h.start());
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(StoreUnavailableError);
  });

  it('a callback whose final write loses to another is state_used, not a success', async () => {
    let casCalls = 0;
    const h = harness(WEB_DOOR, {
      hook: (prop) => {
        // 1st write: the start; 2nd: the handoff of this callback — lost
        if (prop === 'compareAndSetRecord' && ++casCalls === 2) return Promise.resolve(false);
        return undefined;
      },
    });
    expect(await codeOf(h.callback(await h.start()))).toBe('web_login_state_used');
  });

  it('logs one info line per login: door, user, new or not, and a unionid flag (never the value)', async () => {
    const h = harness(WEB_DOOR, { wx: { unionid: 'UNION-SECRET-1' } });
    const state = await h.start();
    await h.callback(state);
    const result = await h.handoff(state);
    expect(h.lines.filter((l) => l.event === 'auth.web.login')).toEqual([{ level: 'info', event: 'auth.web.login', userId: result.user.id, isNewUser: true, unionid: true }]);
    expect(JSON.stringify(h.lines)).not.toContain('UNION-SECRET-1');
  });
});

describe('OAuth: seeding and filling the profile from sns/userinfo', () => {
  it('a snapshot-page user (快照页) is refused and logged with the scope, nothing created', async () => {
    const h = harness(OA_DOOR, { wx: { snapshotUser: true, scope: 'snsapi_userinfo' } });
    expect(await codeOf(h.callback(await h.start()))).toBe('oa_login_snapshot_user');
    expect(h.lines).toEqual([{ level: 'info', event: 'auth.oa.snapshot_user', scope: 'snsapi_userinfo' }]);
    expect((await storeStats(h.inner)).identities).toBe(0);
  });

  it('userinfo of another openid does not seed the new account', async () => {
    const h = harness(WEB_DOOR, { info: { openid: 'o-someone-else', nickname: '别人' } });
    const state = await h.start();
    await h.callback(state);
    expect((await h.handoff(state)).user).toMatchObject({ nickname: null, avatarUrl: null });
  });

  it('an old http:// avatar on WeChat\'s avatar host is stored as https://', async () => {
    const h = harness(WEB_DOOR, { info: { headimgurl: 'http://thirdwx.qlogo.cn/mmopen/vi_32/old/132' } });
    const state = await h.start();
    await h.callback(state);
    expect((await h.handoff(state)).user.avatarUrl).toBe('https://thirdwx.qlogo.cn/mmopen/vi_32/old/132');
  });

  it('a failing userinfo call does not fail the login; it is logged as a warning with the error', async () => {
    const h = harness(WEB_DOOR, { info: new Error('userinfo down') });
    const state = await h.start();
    await h.callback(state);
    expect((await h.handoff(state)).user.nickname).toBeNull();
    expect(h.lines.filter((l) => l.level === 'warn')).toEqual([{ level: 'warn', event: 'auth.web.userinfo_skipped', error: expect.objectContaining({ message: 'userinfo down' }) }]);
  });

  it('a known person who allows 昵称、头像 gets only what is missing filled, once, and logged', async () => {
    const h = harness(OA_DOOR, { wx: { scope: 'snsapi_userinfo' }, info: { nickname: '新昵称', headimgurl: 'https://thirdwx.qlogo.cn/mmopen/vi_32/new/132' } });
    // The person exists with an avatar of their own and no nickname.
    const user = { id: 'u-known', nickname: null, avatarUrl: AVATAR, createdAt: new Date(0), updatedAt: new Date(0) };
    await h.inner.accounts.insertUserIfAbsent(user);
    await h.inner.accounts.insertIdentity({ key: `oid:${APPID}:${h.openid}`, kind: 'oid', userId: 'u-known', appid: APPID, openid: h.openid, unionid: null, sessionKey: null, user, createdAt: new Date(0), updatedAt: new Date(0) });
    const state = await h.start();
    await h.callback(state);
    expect((await h.handoff(state)).user).toMatchObject({ id: 'u-known', nickname: '新昵称', avatarUrl: AVATAR });
    expect(h.lines.filter((l) => l.event === 'auth.oa.profile_filled')).toEqual([{ level: 'info', event: 'auth.oa.profile_filled', userId: 'u-known', fields: ['nickname'] }]);
    // Nothing left to fill: no write, no log line.
    const written = (await h.inner.accounts.getUser('u-known'))!.updatedAt.getTime();
    h.clock.t += 1_000;
    const again = await h.start();
    await h.callback(again, 'CODE_2');
    expect((await h.inner.accounts.getUser('u-known'))!.updatedAt.getTime()).toBe(written);
    expect(h.lines.filter((l) => l.event === 'auth.oa.profile_filled')).toHaveLength(1);
  });
});

describe('OAuth: nothing to fill', () => {
  it('when userinfo has nothing the profile lacks, nothing is written or logged', async () => {
    const h = harness(OA_DOOR, { wx: { scope: 'snsapi_userinfo' }, info: { nickname: null, headimgurl: 'https://thirdwx.qlogo.cn/mmopen/vi_32/other/132' } });
    const user = { id: 'u-nonick', nickname: null, avatarUrl: AVATAR, createdAt: new Date(0), updatedAt: new Date(0) };
    await h.inner.accounts.insertUserIfAbsent(user);
    await h.inner.accounts.insertIdentity({ key: `oid:${APPID}:${h.openid}`, kind: 'oid', userId: 'u-nonick', appid: APPID, openid: h.openid, unionid: null, sessionKey: null, user, createdAt: new Date(0), updatedAt: new Date(0) });
    const state = await h.start();
    await h.callback(state);
    expect((await h.handoff(state)).user).toMatchObject({ id: 'u-nonick', nickname: null, avatarUrl: AVATAR });
    expect((await h.inner.accounts.getUser('u-nonick'))!.updatedAt).toEqual(new Date(0));
    expect(h.lines.filter((l) => l.event === 'auth.oa.profile_filled')).toEqual([]);
  });
});

describe('OAuth handoff', () => {
  it('lives until the millisecond before its 60 s are up', async () => {
    const late = harness();
    const s1 = await late.start();
    await late.callback(s1);
    late.clock.t += 60_000;
    expect(await codeOf(late.handoff(s1))).toBe('web_login_state_invalid');
    const inTime = harness();
    const s2 = await inTime.start();
    await inTime.callback(s2);
    inTime.clock.t += 59_999;
    expect((await inTime.handoff(s2)).token).toMatch(/^[a-z2-7]{32}$/);
  });

  it('an account deleted between callback and handoff is state_invalid, not a crash', async () => {
    let deleted = false;
    const h = harness(WEB_DOOR, { hook: (prop) => (prop === 'getUser' && deleted ? Promise.resolve(null) : undefined) });
    const state = await h.start();
    await h.callback(state);
    deleted = true; // 注销账号 ran in between: the user is gone
    expect(await codeOf(h.handoff(state))).toBe('web_login_state_invalid');
    expect((await storeStats(h.inner)).sessions).toBe(0);
  });

  it('a taker that loses the race, or whose write fails, leaves no session behind and gets no token', async () => {
    for (const outcome of ['lost', 'failed'] as const) {
      let takes = 0;
      const h = harness(WEB_DOOR, {
        hook: (prop, args) => {
          const value = args[1] as { taken?: boolean } | undefined;
          if (prop === 'compareAndSetRecord' && value?.taken && ++takes === 1) return outcome === 'lost' ? Promise.resolve(false) : Promise.reject(new StoreUnavailableError('down'));
          return undefined;
        },
      });
      const state = await h.start();
      await h.callback(state);
      let error: unknown;
      let result: unknown;
      try {
        result = await h.handoff(state);
      } catch (e) {
        error = e;
      }
      expect(result, outcome).toBeUndefined();
      if (outcome === 'lost') expect((error as AppError).code).toBe('web_login_state_used');
      else expect(error).toBeInstanceOf(StoreUnavailableError);
      expect((await storeStats(h.inner)).sessions, outcome).toBe(0);
    }
  });

  it('a handoff already taken says state_used even to a browser without the cookie; a malformed state is state_invalid', async () => {
    const h = harness();
    const state = await h.start();
    await h.callback(state);
    await h.handoff(state);
    expect(await codeOf(takeOAuthHandoff(h.deps, { state, cookieState: undefined }))).toBe('web_login_state_used');
    expect(await codeOf(takeOAuthHandoff(h.deps, { state: 'not-a-state', cookieState: undefined }))).toBe('web_login_state_invalid');
  });
});

// Issue 20 "Also in this change": the official account keeping the WeChat grant is done in the flow
// (deps.keepGrant, asked for by the door), not by wrapping exchangeCode in the wiring; and the PC
// attempt a phone confirms rides in the state's own record, not in the OAuth `next`.
describe('what the flow keeps with the state', () => {
  const grantOf = (h: ReturnType<typeof harness>) => getRecord(h.inner, `wechat-grant:${APPID}:${h.openid}`);

  it('keepGrant: an snsapi_userinfo login keeps the grant sealed; without it nothing is kept', async () => {
    const sealer = createSealer(parseSealKeys(`k1:${randomBytes(32).toString('base64')}`));
    const kept = harness(OA_DOOR);
    kept.deps.keepGrant = { sealer };
    await kept.callback(await kept.start());
    const record = await grantOf(kept);
    expect(record?.value).toMatchObject({ openid: kept.openid });
    expect(JSON.stringify(record?.value)).not.toContain('"RT"'); // sealed, not the refresh_token in clear
    expect(JSON.parse(sealer.open((record!.value as { sealed: { kid: string; data: string } }).sealed, `wechat-grant:${APPID}:${kept.openid}`))).toMatchObject({ refreshToken: 'RT', accessToken: 'AT' });

    const dropped = harness(OA_DOOR);
    await dropped.callback(await dropped.start());
    expect(await grantOf(dropped)).toBeNull();
  });

  it('keepGrant: a person refused by checkPerson leaves no grant behind', async () => {
    const h = harness(OA_DOOR);
    h.deps.keepGrant = { sealer: createSealer(parseSealKeys(`k1:${randomBytes(32).toString('base64')}`)) };
    const state = await h.start();
    const refused = await completeOAuthCallback(h.deps, {
      code: 'CODE_1',
      state,
      cookieState: state,
      checkPerson: async () => {
        throw new Error('not the scanner');
      },
    }).catch((e: Error) => e);
    expect(refused).toBeInstanceOf(Error);
    expect(await grantOf(h)).toBeNull();
  });

  it('the PC attempt id is kept in the state record and handed back; `next` stays a page', async () => {
    const h = harness(OA_DOOR);
    const attemptId = 'A'.repeat(22);
    const { state } = await startOAuthLogin(h.deps, { redirectUri: 'https://api.example.com/cb', attemptId });
    const seen: unknown[] = [];
    const done = await completeOAuthCallback(h.deps, { code: 'CODE_1', state, cookieState: state, checkPerson: async (_who, bound) => void seen.push(bound) });
    expect(done).toMatchObject({ attemptId, next: '/pages/account/index' });
    expect(seen).toEqual([{ next: '/pages/account/index', attemptId }]);
  });

  it('snsapi_base for an unknown person: the consent answer carries the attempt id, not a `next` naming it', async () => {
    const h = harness(OA_DOOR, { wx: { scope: 'snsapi_base' } });
    const attemptId = 'B'.repeat(22);
    const { state } = await startOAuthLogin(h.deps, { redirectUri: 'https://api.example.com/cb', attemptId });
    const error = await completeOAuthCallback(h.deps, { code: 'CODE_1', state, cookieState: state }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConsentRequiredError);
    expect((error as ConsentRequiredError).attemptId).toBe(attemptId);
    expect((error as ConsentRequiredError).next).toBe('/pages/account/index');
  });
});
