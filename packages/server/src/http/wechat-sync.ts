import { Hono } from 'hono';
import { requireSession, type AuthVariables } from './auth.js';
import { toPublicUser } from '../users/profile.js';
import { syncWechatProfile, type WechatSyncDeps } from '../flows/wechat-sync/sync.js';
import type { SessionManager } from '../sessions/sessions.js';

/** POST /api/auth/me/wechat-profile — 同步微信头像昵称 (Bearer) → {user}; wechat_reauthorize_required when WeChat's grant is gone. */
export function wechatSyncRoutes(deps: WechatSyncDeps & { sessions: SessionManager }) {
  return new Hono<{ Variables: AuthVariables }>().post('/', requireSession(deps.sessions), async (c) => {
    const user = await syncWechatProfile(deps, c.get('user'));
    return c.json({ user: toPublicUser(user) }, 200, { 'cache-control': 'no-store' });
  });
}
