import type { z } from 'zod';
import { AppError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { Sealer } from '../../crypto/seal.js';
import { defineRecord, type HeldRecord, type Zod } from '../../store/records.js';
import type { Storage, UserRecord } from '../../store/types.js';
import { saveProfile } from '../../users/accounts.js';
import { seedProfile } from '../../users/profile.js';
import { WechatApiError } from '../../wechat/transport.js';
import { context, grantKey, grants, writeGrant, type Grant } from '../oauth/grants.js';
import type { RefreshedOAuthToken } from '../../wechat/sns/oauth2_refresh_token.js';
import type { SnsUserInfo } from '../../wechat/sns/userinfo.js';

const REAUTHORIZE = new Set([42002, 40030, 42007]);

/**
 * 同步微信头像昵称 (issue 14): the official account's web authorization (snsapi_userinfo) yields a
 * refresh_token valid 30 days (docs/WECHAT.md, facts §5). It is kept SEALED in a temporary record
 * `wechat-grant:<appid>:<openid>` (expiresAt = its own end of life) — never sent to a browser, never
 * logged — and used when the person asks to sync: the kept access_token if sns/auth says it is still
 * valid, else sns/oauth2/refresh_token; then sns/userinfo; the profile is written through saveProfile.
 * 42002 (refresh_token expired), 40030 (invalid) and 42007 (password changed) drop the grant and
 * answer wechat_reauthorize_required: the page sends the person through snsapi_userinfo again.
 */

export interface WechatSyncDeps {
  /** the official account's AppID; null = not configured */
  appid: string | null;
  store: Pick<Storage, 'records' | 'accounts' | 'sessions'>;
  sealer: Sealer;
  logger: Logger;
  refresh(refreshToken: string): Promise<RefreshedOAuthToken>;
  checkAccessToken(accessToken: string, openid: string): Promise<boolean>;
  getUserInfo(accessToken: string, openid: string): Promise<SnsUserInfo>;
  clock?: () => Date;
}


export async function syncWechatProfile(deps: WechatSyncDeps, user: UserRecord): Promise<UserRecord> {
  const appid = deps.appid;
  if (!appid) throw new AppError('wechat_sync_unavailable');
  const identity = (await deps.store.accounts.listIdentities(user.id)).find((i) => i.kind === 'oid' && i.appid === appid && i.openid);
  const rec = identity ? await grants.read(deps, grantKey(appid, identity.openid!)) : null;
  const doc = rec?.value;
  if (!identity || !rec || !doc || !doc.sealed || doc.openid !== identity.openid) throw new AppError('wechat_reauthorize_required');
  const openid = identity.openid!;
  const now = (deps.clock?.() ?? new Date()).getTime();
  const grant = JSON.parse(deps.sealer.open(doc.sealed, context(appid, openid))) as Grant;
  let accessToken = grant.accessToken;
  if (!(grant.accessExpiresAt > now && (await deps.checkAccessToken(grant.accessToken, openid)))) {
    let fresh: RefreshedOAuthToken;
    try {
      fresh = await deps.refresh(grant.refreshToken);
    } catch (error) {
      if (error instanceof WechatApiError && REAUTHORIZE.has(error.errcode)) {
        deps.logger.log('info', 'wechat.sync.reauthorize', { userId: user.id, errcode: error.errcode });
        await grants.update(deps, rec, { ...doc, sealed: null, dropped: true }, { ttlMs: 60_000 }).catch(() => null);
        throw new AppError('wechat_reauthorize_required', undefined, { cause: error });
      }
      throw error;
    }
    accessToken = fresh.accessToken;
    await writeGrant({ ...deps, appid }, openid, { refreshToken: fresh.refreshToken, accessToken, accessExpiresAt: now + fresh.expiresIn * 1000 }, rec.expiresAt, rec).catch(() => undefined);
  }
  const info = await deps.getUserInfo(accessToken, openid);
  if (info.openid !== openid) throw new AppError('wechat_reauthorize_required');
  const seed = seedProfile({ nickName: info.nickname ?? undefined, avatarUrl: info.headimgurl?.replace(/^http:\/\//, 'https://') ?? undefined });
  const patch = { ...(seed.nickname ? { nickname: seed.nickname } : {}), ...(seed.avatarUrl ? { avatarUrl: seed.avatarUrl } : {}) };
  if (!Object.keys(patch).length) return user;
  const saved = await saveProfile(deps.store, user, patch, new Date(now));
  deps.logger.log('info', 'wechat.sync.saved', { userId: user.id, fields: Object.keys(patch) });
  return saved ?? user;
}

/**
 * Account deletion: the kept grants of the user's official-account identities are expired at once
 * (read as absent, swept by the store) — a deleted person's WeChat tokens are not kept 30 more days.
 * Returns how many grants were dropped. Call it while the identities still exist.
 */
export async function forgetGrants(deps: Pick<WechatSyncDeps, 'appid' | 'store' | 'clock'>, userId: string): Promise<number> {
  if (!deps.appid) return 0;
  const now = deps.clock?.() ?? new Date();
  let dropped = 0;
  for (const identity of await deps.store.accounts.listIdentities(userId)) {
    if (identity.kind !== 'oid' || identity.appid !== deps.appid || !identity.openid) continue;
    const rec = await grants.read(deps, grantKey(deps.appid, identity.openid));
    if (rec && (await grants.update(deps, rec, { dropped: true }, { expiresAt: now }))) dropped++;
  }
  return dropped;
}

