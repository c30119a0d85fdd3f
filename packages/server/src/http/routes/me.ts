import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { NICKNAME_MAX_LENGTH, isAnonymousAvatar, isAnonymousNickname, type MeResponse } from '../../../../../shared/api.js';
import { AppError } from '../../errors.js';
import { savePhoneNumber, type PhoneDeps } from '../../flows/mini/phone.js';
import { requireSession, type AuthVariables } from '../auth.js';
import { PhoneBody } from './mini.js';
import { lazySchema, limitBody, MAX_JSON_BYTES, readJson } from '../json.js';
import type { Logger } from '../../log.js';
import type { SessionManager } from '../../sessions/sessions.js';
import type { Storage } from '../../store/types.js';
import { chooseAvatar, encodeAvatar, MAX_AVATAR_BYTES, setUploadedAvatar, updateProfileWithAvatar } from '../../users/avatar.js';
import { saveProfile } from '../../users/accounts.js';
import { isWechatAvatarUrl, normalizeNickname, toPublicUser } from '../../users/profile.js';

const UpdateMe = lazySchema((z) =>
  z
    .object({
      nickname: z.string().max(NICKNAME_MAX_LENGTH * 4).optional(),
      avatarUrl: z.string().max(2048).optional(),
    })
    .strict()
    .refine((v) => v.nickname !== undefined || v.avatarUrl !== undefined, 'nothing to update'),
);


export interface MeDeps {
  store: Storage;
  sessions: SessionManager;
  logger: Logger;
  phone: PhoneDeps | null;
  /** WeChat content-safety check for a nickname; null when no mini-program token is available. */
  checkNickname: ((nickname: string, userId: string) => Promise<boolean>) | null;
  /** where uploaded avatars are served: `<basePath>/avatars/` (absent: /api/auth/avatars/) */
  avatarPath?: string;
  /** 注销: users/delete.ts deleteAccount with the instance's hooks and what other flows keep (main.ts) */
  deleteUser(userId: string): Promise<void>;
}

export function meRoutes(deps: MeDeps) {
  const auth = requireSession(deps.sessions);
  // limitBody: a stated length is judged from the header, without building a WHATWG Request (json.ts)
  const jsonLimit = limitBody(MAX_JSON_BYTES, () => {
    throw new AppError('payload_too_large');
  });
  const imageLimit = bodyLimit({ maxSize: MAX_AVATAR_BYTES + 64 * 1024, onError: () => { throw new AppError('payload_too_large', `头像图片不能超过 ${MAX_AVATAR_BYTES / 1024} KB`); } });

  return new Hono<{ Variables: AuthVariables }>()
    // expiresAt: the session's CURRENT expiry (validate() slides it), so clients keep it up to date.
    .get('/me', auth, (c) =>
      c.json<MeResponse>({ user: toPublicUser(c.var.user), expiresAt: c.var.session.expiresAt.toISOString() }, 200, { 'cache-control': 'no-store' }),
    )
    // PATCH for HTTP clients; PUT is the same update for the mini-program (wx.request has no PATCH).
    .on(['PATCH', 'PUT'], '/me', jsonLimit, auth, async (c) => {
      const body = await readJson(c, UpdateMe);
      const patch: { nickname?: string; avatarUrl?: string } = {};
      if (body.nickname !== undefined) {
        const nickname = normalizeNickname(body.nickname);
        if (!nickname || isAnonymousNickname(nickname)) throw new AppError('invalid_request', `昵称需为 1–${NICKNAME_MAX_LENGTH} 个字符，且不能是“微信用户”`);
        if (deps.checkNickname && !(await deps.checkNickname(nickname, c.var.user.id))) throw new AppError('content_risky', '昵称含有违规信息，请修改后重试');
        patch.nickname = nickname;
      }
      if (body.avatarUrl !== undefined) {
        // Only the caller's own upload or a (non-anonymous) WeChat avatar; another user's image is refused.
        const wechatAvatar = (url: string) => isWechatAvatarUrl(url) && !isAnonymousAvatar(url);
        patch.avatarUrl = await chooseAvatar(deps.store, c.var.user, body.avatarUrl, [new URL(c.req.url).origin], wechatAvatar, deps.avatarPath);
      }
      const user = patch.avatarUrl !== undefined
        ? await updateProfileWithAvatar(deps.store, c.var.user.id, { ...patch, avatarUrl: patch.avatarUrl }, new Date())
        : await saveProfile(deps.store, c.var.user, patch, new Date());
      if (!user) throw new AppError('unauthorized');
      return c.json<MeResponse>({ user: toPublicUser(user) });
    })
    .delete('/me', auth, async (c) => {
      await deps.deleteUser(c.var.user.id);
      deps.logger.log('info', 'account.deleted', { userId: c.var.user.id });
      return c.body(null, 204);
    })
    .post('/me/avatar', imageLimit, auth, async (c) => {
      // uni.uploadFile sends multipart/form-data with the file in `file`; a raw image body works too.
      const type = c.req.header('content-type') ?? '';
      let bytes: Buffer;
      if (type.startsWith('multipart/form-data')) {
        const form = await c.req.formData().catch(() => null);
        const file = form?.get('file');
        if (!file || typeof file === 'string') throw new AppError('invalid_request', '请求参数不正确：缺少图片文件 file');
        bytes = Buffer.from(await file.arrayBuffer());
      } else if (type.startsWith('image/')) {
        bytes = Buffer.from(await c.req.arrayBuffer());
      } else {
        throw new AppError('unsupported_media_type', '请求体必须是 multipart/form-data 或图片');
      }
      // The image it replaces is deleted by the same (per-user serialised) change, if it is theirs.
      const { avatarUrl, user } = await setUploadedAvatar(deps.store, c.var.user.id, await encodeAvatar(bytes), new Date(), deps.avatarPath);
      return c.json({ avatarUrl, user: toPublicUser(user) });
    })
    .post('/me/phone', jsonLimit, auth, async (c) => {
      if (!deps.phone) throw new AppError('wechat_config_invalid');
      const { code } = await readJson(c, PhoneBody);
      const user = await savePhoneNumber(deps.phone, c.var.user, code, new Date());
      return c.json<MeResponse>({ user: toPublicUser(user) });
    })
    .get('/avatars/:file', async (c) => {
      const match = /^([0-9a-f]{32})\.jpg$/.exec(c.req.param('file'));
      const blob = match ? await deps.store.blobs.get(match[1]!) : null;
      if (!blob) throw new AppError('not_found', '头像不存在');
      // Each upload gets a new id, so a stored avatar never changes: cache it for a year.
      return c.body(new Uint8Array(blob.data), 200, {
        'content-type': blob.contentType,
        'cache-control': 'public, max-age=31536000, immutable',
        'content-length': String(blob.data.length),
      });
    });
}
