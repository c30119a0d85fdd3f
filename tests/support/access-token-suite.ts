import { getRecord } from './records.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../packages/server/src/log.js';
import type { Storage } from '../../packages/server/src/store/types.js';
import { createAccessTokens } from '../../packages/server/src/wechat/access-token.js';
import { stableToken } from '../../packages/server/src/wechat/auth/stable_token.js';
import { postJson, simCode, startStack, type Stack } from './stack.js';

/** Runs the shared-token behaviour against a store; the MongoDB suite reuses it. */
export function accessTokenSuite(name: string, makeStore: () => Promise<Storage>) {
  describe(`shared access_token (${name})`, () => {
    let stack: Stack;
    let store: Storage;
    beforeAll(async () => {
      store = await makeStore();
      stack = await startStack({ overrides: { store } });
    });
    afterAll(() => stack.close());

    const instance = () =>
      createAccessTokens({ appid: stack.appid, store, sealer: stack.services.sealer, logger: silentLogger, fetchToken: (force) => stableToken(stack.services.transport, stack.services.config.mini, force) });
    const fetches = () => ({ ...(stack.sim.tokens.stableFetches.get(stack.appid) ?? { normal: 0, force: 0 }) });

    it('20 instances asking at once cause one stable_token fetch and share the token', async () => {
      const tokens = await Promise.all(Array.from({ length: 20 }, () => instance().get()));
      expect(new Set(tokens).size).toBe(1);
      expect(fetches()).toEqual({ normal: 1, force: 0 });
      expect(stack.sim.tokens.check(tokens[0])).toBe(0);
    });

    it('recovers from another system\'s force refresh without spending our own', async () => {
      const login = await postJson(`${stack.apiUrl}/api/auth/mini/login`, { code: await simCode(stack, 'tok') });
      const phone = async () =>
        postJson(`${stack.apiUrl}/api/auth/me/phone`, { code: (await postJson(`${stack.simUrl}/__sim/mini/phone-code`, { appid: stack.appid, user: 'tok' })).body.code }, { authorization: `Bearer ${login.body.token}` });
      expect((await phone()).status).toBe(200);
      const before = fetches();
      await postJson(`${stack.simUrl}/__sim/tokens/stable/force`, { appid: stack.appid }); // the outside system
      const res = await phone();
      expect(res.status).toBe(200);
      const after = fetches();
      expect(after.force - before.force).toBe(1); // only the outside system's
      expect(after.normal - before.normal).toBe(1); // one normal call picked up the new token
      const record = await getRecord(store, `wechat_token:${stack.appid}`);
      expect(record!.value.forceCount).toBe(0);
      expect(JSON.stringify(record)).not.toContain(await instance().get());
    });
  });
}

