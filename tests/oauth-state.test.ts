import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { completeOAuthCallback, startOAuthLogin, takeOAuthHandoff, type OAuthDoor, type OAuthLoginDeps } from '../packages/server/src/flows/oauth/login.js';
import { OA_DOOR } from '../packages/server/src/flows/oa/door.js';
import { WEB_DOOR } from '../packages/server/src/flows/web/door.js';
import { silentLogger } from '../packages/server/src/log.js';
import { createSessionManager } from '../packages/server/src/sessions/sessions.js';
import { EmbeddedStore } from '../packages/server/src/store/embedded.js';
import type { Storage } from '../packages/server/src/store/types.js';
import { testMongo } from './support/mongo.js';

// The OAuth `state` of the browser doors (website QR login, official-account H5):
//  - it lives 10 minutes from the start (a callback at 10:00.000 is refused, 9:59.999 accepted);
//  - a callback is completed once: two callbacks racing with the same state (a double redirect,
//    a reload while the first is in flight) exchange the code ONCE and exactly one of them wins.
// The flow's clock decides every expiry, the claim's included (Store.claim takes it).
const T0 = Date.now();
const TEN_MINUTES = 600_000;

const testDb = testMongo('oauth_state');
const uri = testDb.uri;


function setup(door: OAuthDoor, store: Storage) {
  const clock = { t: T0 };
  const exchanged: string[] = [];
  const deps: OAuthLoginDeps = {
    door,
    appid: 'wx00000000000000a1',
    openBaseUrl: 'https://open.weixin.qq.com',
    store,
    sessions: createSessionManager(store, () => new Date(clock.t)),
    logger: silentLogger,
    clock: () => new Date(clock.t),
    exchangeCode: async (code) => {
      exchanged.push(code);
      // long enough for a racing callback to reach the same point
      await new Promise((r) => setTimeout(r, 30));
      return { accessToken: 'AT', refreshToken: 'RT', expiresIn: 7200, openid: `o-${door.name}-${randomUUID()}`, unionid: null, scope: door.name === 'oa' ? 'snsapi_userinfo' : 'snsapi_login', snapshotUser: false };
    },
    getUserInfo: async () => {
      throw new Error('not called for snsapi_base');
    },
  };
  const start = () => startOAuthLogin(deps, { redirectUri: 'https://api.example.com/cb', next: '/pages/account/index' });
  const callback = (state: string) => completeOAuthCallback(deps, { code: 'CODE_1', state, cookieState: state });
  return { deps, clock, exchanged, start, callback };
}

const embedded = async () => new EmbeddedStore({ dir: null });
const mongo = testDb.store;

for (const door of [WEB_DOOR, OA_DOOR]) {
  describe(`${door.name} door: the state lives 10 minutes`, () => {
    it('expires exactly 10 minutes after the start', async () => {
      const s = setup(door, await embedded());
      const { expiresAt } = await s.start();
      expect(expiresAt.getTime()).toBe(T0 + TEN_MINUTES);
    });

    it('a callback 1 ms before the 10 minutes are up completes', async () => {
      const s = setup(door, await embedded());
      const { state } = await s.start();
      s.clock.t = T0 + TEN_MINUTES - 1;
      await expect(s.callback(state)).resolves.toMatchObject({ state });
      expect(s.exchanged).toEqual(['CODE_1']);
    });

    it('a callback at 10 minutes is refused as an invalid state, without spending the code', async () => {
      const s = setup(door, await embedded());
      const { state } = await s.start();
      s.clock.t = T0 + TEN_MINUTES;
      const error = await s.callback(state).catch((e) => e);
      expect(error.code).toBe(door.errors.stateInvalid);
      expect(s.exchanged).toEqual([]);
      s.clock.t = T0 + 3600_000;
      expect((await s.callback(state).catch((e) => e)).code).toBe(door.errors.stateInvalid);
    });
  });

  for (const [storeName, makeStore] of [['embedded store', embedded], ['MongoDB', mongo]] as const) {
    describe.skipIf(storeName === 'MongoDB' && !uri)(`${door.name} door on the ${storeName}: two callbacks at once`, () => {
      it('exchange the code once; exactly one wins, the other is told the state was used', async () => {
        const s = setup(door, await makeStore());
        const { state } = await s.start();
        const results = await Promise.allSettled([s.callback(state), s.callback(state)]);
        const won = results.filter((r) => r.status === 'fulfilled');
        const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
        expect(won).toHaveLength(1);
        expect(lost).toHaveLength(1);
        expect(lost[0]!.reason.code).toBe(door.errors.stateUsed);
        expect(s.exchanged).toEqual(['CODE_1']);
        // the winner's login is collectable once
        const handoff = await takeOAuthHandoff(s.deps, { state, cookieState: state });
        expect(handoff.token).toMatch(/^[a-z2-7]{32}$/);
      });
    });
  }
}
