import type { z } from 'zod';
import type { Logger } from '../../log.js';
import type { Sealer } from '../../crypto/seal.js';
import { defineRecord, type HeldRecord, type Zod } from '../../store/records.js';
import type { Storage } from '../../store/types.js';
import type { OAuthAccessToken } from '../../wechat/sns/oauth2_access_token.js';

/**
 * The official account's kept WeChat grant (同步微信头像昵称, flows/wechat-sync): right after the
 * code exchange of an snsapi_userinfo login the OAuth flow keeps the grant SEALED in a temporary
 * record `wechat-grant:<appid>:<openid>` (expiresAt = the refresh_token's end of life) — never sent
 * to a browser, never logged. The door decides whether it is kept (`officialAccount({ keepGrant })`);
 * the flow does it (completeOAuthCallback), not the wiring.
 */
export const REFRESH_TOKEN_LIFETIME_MS = 30 * 24 * 3600 * 1000;
export interface Grant {
  refreshToken: string;
  accessToken: string;
  /** ms since epoch */
  accessExpiresAt: number;
}

/**
 * `wechat-grant:<appid>:<openid>`; its expiry is the refresh_token's end of life (judged by
 * store/records.ts only). A dropped grant keeps `dropped: true` and no sealed value.
 */
export const GrantDoc = (z: Zod) => z.object({
  openid: z.string().optional(),
  sealed: z.object({ kid: z.string(), data: z.string() }).nullable().optional(),
  dropped: z.boolean().optional(),
});
export const grants = defineRecord({ prefix: 'wechat-grant', schema: GrantDoc, ttlMs: REFRESH_TOKEN_LIFETIME_MS });

export interface KeepGrantDeps {
  store: Pick<Storage, 'records'>;
  sealer: Sealer;
  logger: Logger;
  clock?: (() => Date) | undefined;
}

export const grantKey = (appid: string, openid: string) => `${appid}:${openid}`;
export const context = (appid: string, openid: string) => `wechat-grant:${appid}:${openid}`;

/**
 * Called by completeOAuthCallback right after the official account's code exchange (deps.keepGrant):
 * keeps an snsapi_userinfo grant sealed, keyed by the openid — whose identity names the account.
 * Best effort: a failure is logged, the login goes on (a later sync asks to authorize again).
 */
export async function keepGrant(deps: KeepGrantDeps & { appid: string }, wx: OAuthAccessToken): Promise<void> {
  if (!wx.refreshToken || wx.snapshotUser || wx.scope !== 'snsapi_userinfo') return;
  const now = (deps.clock?.() ?? new Date()).getTime();
  try {
    await writeGrant(deps, wx.openid, { refreshToken: wx.refreshToken, accessToken: wx.accessToken, accessExpiresAt: now + wx.expiresIn * 1000 }, new Date(now + REFRESH_TOKEN_LIFETIME_MS), null);
  } catch (error) {
    deps.logger.log('warn', 'wechat.sync.grant_not_kept', { error: error instanceof Error ? error.name : 'error' });
  }
}

export async function writeGrant(deps: Pick<KeepGrantDeps, 'store' | 'sealer' | 'clock'> & { appid: string }, openid: string, grant: Grant, refreshExpiresAt: Date, held: HeldRecord<z.infer<ReturnType<typeof GrantDoc>>> | null): Promise<void> {
  const key = grantKey(deps.appid, openid);
  const doc = { openid, sealed: deps.sealer.seal(JSON.stringify(grant), context(deps.appid, openid)) };
  const current = held ?? (await grants.read(deps, key));
  if (current) await grants.update(deps, current, doc, { expiresAt: refreshExpiresAt });
  else await grants.create(deps, key, doc, { expiresAt: refreshExpiresAt });
}
