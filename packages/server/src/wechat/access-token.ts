import type { z } from 'zod';
import { randomBytes } from 'node:crypto';
import type { Sealer } from '../crypto/seal.js';
import type { Logger } from '../log.js';
import type { Storage } from '../store/types.js';
import { lazySchema, type Zod } from '../store/records.js';
import { STABLE_TOKEN_PATH, type StableToken } from './auth/stable_token.js';
import { WechatApiError, WechatConfigError, WechatUnavailableError } from './transport.js';

/**
 * One access_token per appid, shared by every instance through the store.
 *
 * - The token (sealed) and a refresh lease live in one versioned record; instances read it, and
 *   only the one that wins the lease (compare-and-set) calls stable_token. The others keep using the
 *   still-valid token, or wait briefly for the new one.
 * - Refresh happens ahead of expiry (REFRESH_AHEAD_MS), so callers rarely see a refresh at all.
 * - 40001 (invalid / not latest): a normal stable_token call first — if another system force-refreshed,
 *   that already returns the new token. Only when it returns the very token that failed is a
 *   force_refresh spent, within WeChat's limits (20 a day, 30 s apart) counted in the record.
 *   42001 (expired) needs only a normal call. The failed WeChat call is retried once.
 * - Inside one instance the work is single-flight: concurrent callers share one store read and,
 *   on a cold or rejected token, one stable_token call (the lease only excludes other instances).
 * - A token sealed with a key this instance does not hold (rotation) is treated as absent and
 *   fetched again; one sealed with an older key it still holds is re-sealed with the current key.
 */
export const REFRESH_AHEAD_MS = 10 * 60 * 1000;
const LEASE_MS = 8_000;
const WAIT_STEP_MS = 150;
const MAX_WAIT_MS = 5_000;
const FORCE_PER_DAY = 20;
const FORCE_SPACING_MS = 30_000;

/** The record `wechat_token:<appid>` (permanent: the token's own expiry is a field). Parsed on read: an unreadable one counts as blank. */
const TokenDoc = (z: Zod) => z.object({
  token: z.object({ kid: z.string(), data: z.string() }).nullable(),
  expiresAt: z.number(),
  leaseOwner: z.string().nullable(),
  leaseUntil: z.number(),
  forceDay: z.string(),
  forceCount: z.number(),
  lastForceAt: z.number(),
});
type TokenDoc = z.infer<ReturnType<typeof TokenDoc>>;
const tokenDoc = lazySchema(TokenDoc);

export interface AccessTokenDeps {
  appid: string;
  store: Pick<Storage, 'records'>;
  sealer: Sealer;
  logger: Logger;
  fetchToken(forceRefresh: boolean): Promise<StableToken>;
  clock?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export interface AccessTokens {
  get(): Promise<string>;
  /** Runs a WeChat call with the token; on 40001/42001 repairs the token and retries once. */
  withToken<T>(call: (token: string) => Promise<T>): Promise<T>;
}

const IP_ERRCODES = new Set([40164, 89503]);
const TOKEN_CONFIG_ERRCODES = new Set([40001, 40125, 40013]);
/** The token a call used was refused: 40001 invalid / not latest, 40014 不合法的 access_token (§5), 42001 expired. */
const TOKEN_REJECTED = new Set([40001, 40014, 42001]);

export function createAccessTokens(deps: AccessTokenDeps): AccessTokens {
  const id = `wechat_token:${deps.appid}`;
  const owner = randomBytes(8).toString('hex');
  const now = deps.clock ?? Date.now;
  const sleep = deps.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));
  const context = `access_token:${deps.appid}`;

  /** The stored token, or null when there is none or this instance cannot open it (never a 500). */
  const open = (doc: TokenDoc): string | null => {
    if (!doc.token) return null;
    try {
      return deps.sealer.open(doc.token, context);
    } catch (error) {
      deps.logger.log('warn', 'wechat.token.unreadable', { appid: deps.appid, kid: doc.token.kid, error });
      return null;
    }
  };
  const unavailable = (detail: string, cause?: unknown) => new WechatUnavailableError(STABLE_TOKEN_PATH, 'token_refresh', detail, { cause });
  const blank = (): TokenDoc => ({ token: null, expiresAt: 0, leaseOwner: null, leaseUntil: 0, forceDay: '', forceCount: 0, lastForceAt: 0 });

  async function fetchWith(force: boolean): Promise<StableToken> {
    try {
      return await deps.fetchToken(force);
    } catch (error) {
      if (!(error instanceof WechatApiError)) throw error;
      if (IP_ERRCODES.has(error.errcode)) {
        deps.logger.log('error', 'wechat.token.ip_not_whitelisted', { appid: deps.appid, errcode: error.errcode, errmsg: error.errmsg });
        throw new WechatConfigError(error.path, 'ip_not_whitelisted', error.errcode, { cause: error });
      }
      if (error.errcode === 45009) throw unavailable('daily stable_token quota used up (45009)', error);
      // §6: a wrong AppSecret on the token endpoints (40001 on cgi-bin/token, 40125 invalid appsecret,
      // 40013 invalid appid) is the server's configuration, not "WeChat unavailable".
      if (TOKEN_CONFIG_ERRCODES.has(error.errcode)) {
        deps.logger.log('error', 'wechat.token.config_invalid', { appid: deps.appid, errcode: error.errcode });
        throw new WechatConfigError(error.path, 'credentials', error.errcode, { cause: error });
      }
      throw error;
    }
  }

  /**
   * Returns a usable token. `failed` is a token WeChat just refused: never return it again.
   * `expired` says WeChat called it expired (42001) rather than invalid (40001).
   */
  async function obtain(failed?: string, expired = false): Promise<string> {
    const deadline = now() + MAX_WAIT_MS;
    for (;;) {
      const [rec, schema] = await Promise.all([deps.store.records.get([id], new Date(now())).then((found) => found.get(id)), tokenDoc.get()]);
      const parsed = schema.safeParse(rec?.value);
      const doc = parsed.success ? parsed.data : blank();
      const current = open(doc);
      const t = now();
      const usable = current && current !== failed && doc.expiresAt > t;
      if (usable && doc.expiresAt - t > REFRESH_AHEAD_MS) {
        if (doc.token!.kid !== deps.sealer.currentKid && rec) {
          // Sealed with a key being retired: re-seal with the current one (losing this race is fine).
          const resealed: TokenDoc = { ...doc, token: deps.sealer.seal(current, context) };
          await deps.store.records.put(id, resealed, rec.version, null, new Date(now())).catch(() => null);
        }
        return current;
      }
      const leased = doc.leaseOwner && doc.leaseOwner !== owner && doc.leaseUntil > t;
      if (leased) {
        if (usable) return current; // someone is refreshing early; the old token still works
        if (t > deadline) throw unavailable(`another instance held the refresh lease for over ${MAX_WAIT_MS} ms`);
        await sleep(WAIT_STEP_MS);
        continue;
      }
      const lease: TokenDoc = { ...doc, leaseOwner: owner, leaseUntil: t + LEASE_MS };
      const leaseVersion = await deps.store.records.put(id, lease, rec?.version ?? null, null, new Date(now()));
      if (leaseVersion === null) continue;
      let fresh: StableToken;
      let forced = false;
      try {
        fresh = await fetchWith(false);
        if (failed && !expired && fresh.accessToken === failed) {
          // The normal call handed back the token WeChat refused: only a forced refresh helps.
          const day = new Date(now() + 8 * 3600_000).toISOString().slice(0, 10);
          const count = doc.forceDay === day ? doc.forceCount : 0;
          if (count >= FORCE_PER_DAY || now() - doc.lastForceAt < FORCE_SPACING_MS) {
            deps.logger.log('error', 'wechat.token.force_refused', { appid: deps.appid, count, lastForceAt: doc.lastForceAt });
            throw unavailable('forced refresh refused (20 a day, 30 s apart)');
          }
          fresh = await fetchWith(true);
          forced = true;
          lease.forceDay = day;
          lease.forceCount = count + 1;
          lease.lastForceAt = now();
        }
      } catch (error) {
        await deps.store.records.put(id, { ...lease, leaseOwner: null, leaseUntil: 0 }, leaseVersion, null, new Date(now()));
        throw error;
      }
      const saved: TokenDoc = {
        ...lease,
        token: deps.sealer.seal(fresh.accessToken, context),
        expiresAt: now() + fresh.expiresIn * 1000,
        leaseOwner: null,
        leaseUntil: 0,
      };
      await deps.store.records.put(id, saved, leaseVersion, null, new Date(now()));
      deps.logger.log('info', 'wechat.token.refreshed', { appid: deps.appid, forced, expiresIn: fresh.expiresIn });
      return fresh.accessToken;
    }
  }

  /** The one obtain() this instance is running, shared by every concurrent caller. */
  let inflight: Promise<string> | null = null;
  async function shared(failed?: string, expired = false): Promise<string> {
    const joined = inflight !== null;
    inflight ??= obtain(failed, expired).finally(() => {
      inflight = null;
    });
    const token = await inflight;
    // Joined a flight that started before `failed` was refused and it handed that token back:
    // run our own (once), which knows the token is refused.
    return joined && failed && token === failed ? shared(failed, expired) : token;
  }

  return {
    get: () => shared(),
    async withToken(call) {
      const token = await shared();
      try {
        return await call(token);
      } catch (error) {
        if (!(error instanceof WechatApiError) || !TOKEN_REJECTED.has(error.errcode)) throw error;
        deps.logger.log('warn', 'wechat.token.rejected', { appid: deps.appid, errcode: error.errcode });
        return call(await shared(token, error.errcode === 42001));
      }
    },
  };
}
