import { describe, expect, it } from 'vitest';
import { createSealer } from '../packages/server/src/crypto/seal.js';
import { silentLogger } from '../packages/server/src/log.js';
import { EmbeddedStore } from '../packages/server/src/store/embedded.js';
import { createAccessTokens } from '../packages/server/src/wechat/access-token.js';
import { WechatApiError } from '../packages/server/src/wechat/transport.js';
import { toAppError } from '../packages/server/src/http/errors.js';

// stable_token with force_refresh=true is limited by WeChat (wechat-api-facts.md §6): at most
// 20 a day and at least 30 s apart. The service must never spend a forced refresh outside those
// limits — counted in the shared record, so every instance of the API obeys the same budget.
// Days are counted in Beijing time (UTC+8), the day WeChat's daily quotas follow.
const APPID = 'wx00000000000000f1';
const sealer = createSealer(new Map([['t', Buffer.alloc(32, 3)]]));
/** 2026-11-30 00:00:00 in Beijing */
const BEIJING_MIDNIGHT = Date.UTC(2026, 10, 29, 16, 0, 0);

function world(start: number) {
  const clock = { t: start };
  const store = new EmbeddedStore({ dir: null });
  let current = 'T1';
  let n = 1;
  let forced = 0;
  const instance = () =>
    createAccessTokens({
      appid: APPID,
      store,
      sealer,
      logger: silentLogger,
      clock: () => clock.t,
      sleep: async () => {},
      // a normal call keeps handing out the current token; only a forced one replaces it
      fetchToken: async (force) => {
        if (force) {
          forced++;
          current = `T${++n}`;
        }
        return { accessToken: current, expiresIn: 7200 };
      },
    });
  /** One WeChat call that refuses the token that is current right now (40001): costs one forced refresh. */
  const rejectCurrent = (tokens: ReturnType<typeof instance>) => {
    const bad = current;
    return tokens.withToken(async (token) => {
      if (token === bad) throw new WechatApiError('/cgi-bin/x', 40001, 'invalid credential, access_token is invalid or not latest');
      return token;
    });
  };
  return { clock, instance, rejectCurrent, forced: () => forced };
}

describe('forced access_token refreshes stay inside WeChat limits', () => {
  it('are at least 30 s apart: 29.999 s after one, a second is refused; at 30 s it is spent', async () => {
    const w = world(BEIJING_MIDNIGHT + 3600_000);
    const tokens = w.instance();
    await expect(w.rejectCurrent(tokens)).resolves.toBe('T2');
    expect(w.forced()).toBe(1);

    w.clock.t += 29_999;
    const refused = await w.rejectCurrent(tokens).catch((e) => e);
    expect(toAppError(refused)?.code).toBe('wechat_token_unavailable');
    expect(w.forced()).toBe(1);

    w.clock.t += 1;
    await expect(w.rejectCurrent(tokens)).resolves.toBe('T3');
    expect(w.forced()).toBe(2);
  });

  it('are at most 20 per Beijing day, counted across instances; the budget renews at Beijing midnight', async () => {
    const w = world(BEIJING_MIDNIGHT + 60_000);
    const a = w.instance();
    const b = w.instance();
    for (let i = 0; i < 20; i++) {
      await w.rejectCurrent(i % 2 ? b : a);
      w.clock.t += 30_000;
    }
    expect(w.forced()).toBe(20);

    // the 21st, correctly spaced, on either instance: refused
    for (const tokens of [a, b]) {
      const refused = await w.rejectCurrent(tokens).catch((e) => e);
      expect(toAppError(refused)?.code).toBe('wechat_token_unavailable');
    }
    expect(w.forced()).toBe(20);

    // still the same Beijing day one second before midnight (16:00 UTC)
    w.clock.t = BEIJING_MIDNIGHT + 86_400_000 - 1000;
    expect(toAppError(await w.rejectCurrent(a).catch((e) => e))?.code).toBe('wechat_token_unavailable');
    expect(w.forced()).toBe(20);

    // a new Beijing day: the budget is back
    w.clock.t = BEIJING_MIDNIGHT + 86_400_000;
    await expect(w.rejectCurrent(b)).resolves.toBe('T22');
    expect(w.forced()).toBe(21);
  });
});
