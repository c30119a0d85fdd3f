import { Hono } from 'hono';
import { z } from 'zod';
import { NICKNAME_MAX_LENGTH, isAnonymousAvatar, isAnonymousNickname, type MeResponse } from '../../../shared/api.js';
import { AppError } from '../errors.js';
import { requireSession, type AuthVariables } from '../http/auth.js';
import { readJson } from '../http/json.js';
import type { SessionManager } from '../sessions/sessions.js';
import type { Store } from '../store/types.js';
import { isWechatAvatarUrl, normalizeNickname, toPublicUser } from './profile.js';

const UpdateMe = z
  .object({
    nickname: z.string().max(NICKNAME_MAX_LENGTH * 4).optional(),
    avatarUrl: z.string().max(2048).optional(),
  })
  .strict()
  .refine((v) => v.nickname !== undefined || v.avatarUrl !== undefined, 'nothing to update');

export interface MeDeps {
  store: Store;
  sessions: SessionManager;
  /** Avatar URLs we serve ourselves (uploaded images) start with one of these. */
  ownAvatarPrefixes: () => string[];
}

export function meRoutes(deps: MeDeps) {
  const auth = requireSession(deps.sessions);
  return new Hono<{ Variables: AuthVariables }>()
    .get('/', auth, (c) => c.json<MeResponse>({ user: toPublicUser(c.var.user) }, 200, { 'cache-control': 'no-store' }))
    .patch('/', auth, async (c) => {
      const body = await readJson(c, UpdateMe);
      const patch: { nickname?: string; avatarUrl?: string } = {};
      if (body.nickname !== undefined) {
        const nickname = normalizeNickname(body.nickname);
        if (!nickname || isAnonymousNickname(nickname)) throw new AppError('invalid_request', `昵称需为 1–${NICKNAME_MAX_LENGTH} 个字符，且不能是“微信用户”`);
        patch.nickname = nickname;
      }
      if (body.avatarUrl !== undefined) {
        const own = deps.ownAvatarPrefixes().some((prefix) => body.avatarUrl!.startsWith(prefix));
        if (!(own || isWechatAvatarUrl(body.avatarUrl)) || isAnonymousAvatar(body.avatarUrl)) throw new AppError('avatar_not_allowed');
        patch.avatarUrl = body.avatarUrl;
      }
      const user = await deps.store.updateUser(c.var.user.id, patch, new Date());
      if (!user) throw new AppError('unauthorized');
      return c.json<MeResponse>({ user: toPublicUser(user) });
    });
}
