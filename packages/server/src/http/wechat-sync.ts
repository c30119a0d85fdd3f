import { Hono } from 'hono';
import { requireSession, type AuthVariables } from './auth.js';
import { toPublicUser } from '../users/profile.js';
import { forgetGrants, syncWechatProfile, type WechatSyncDeps } from '../flows/wechat-sync/sync.js';
import type { MiddlewareHandler } from 'hono';
import { readBearerToken } from './auth.js';
import type { SessionManager } from '../sessions/sessions.js';

/** POST /api/auth/me/wechat-profile — 同步微信头像昵称 (Bearer) → {user}; wechat_reauthorize_required when WeChat's grant is gone. */
export function wechatSyncRoutes(deps: WechatSyncDeps & { sessions: SessionManager }) {
  return new Hono<{ Variables: AuthVariables }>().post('/', requireSession(deps.sessions), async (c) => {
    const user = await syncWechatProfile(deps, c.get('user'));
    return c.json({ user: toPublicUser(user) }, 200, { 'cache-control': 'no-store' });
  });
}

/**
 * Before DELETE /api/auth/me runs: drop the account's kept WeChat grants while its identities still
 * name them (the deletion itself is users/delete.ts; it answers 401 itself for a bad token).
 */
export function forgetGrantsOnDelete(deps: WechatSyncDeps & { sessions: SessionManager }): MiddlewareHandler {
  return async (c, next) => {
    const token = readBearerToken(c.req.header('authorization'));
    const { user } = token ? await deps.sessions.validate(token) : { user: null };
    if (user) await forgetGrants(deps, user.id);
    await next();
  };
}

