import { isAnonymousAvatar, isAnonymousNickname, NICKNAME_MAX_LENGTH, type LoginResponse, type PublicUser } from '../../../../shared/api.js';
import type { UserRecord } from '../store/types.js';

/** Hosts that serve WeChat avatars (getUserProfile / OAuth userinfo headimgurl). */
export const WECHAT_AVATAR_HOSTS = ['thirdwx.qlogo.cn', 'wx.qlogo.cn', 'mmbiz.qpic.cn'];

export function normalizeNickname(value: string | null | undefined): string | null {
  if (typeof value !== 'string') return null;
  // Collapse whitespace and strip control characters; WeChat nicknames may contain emoji.
  const cleaned = value.replace(/[\u0000-\u001f\u007f\u200b-\u200f\u2028-\u202e]/g, '').replace(/\s+/g, ' ').trim();
  if (!cleaned || [...cleaned].length > NICKNAME_MAX_LENGTH) return null;
  return cleaned;
}

/**
 * An https URL on a WeChat avatar host, spelled plainly: no user@ part, no port, no backslash,
 * whitespace or control character (spellings that parsers disagree about are refused outright).
 */
export function isWechatAvatarUrl(value: string): boolean {
  if (/[\\\s\u0000-\u001f\u007f]/.test(value)) return false;
  try {
    const url = new URL(value);
    return url.protocol === 'https:' && WECHAT_AVATAR_HOSTS.includes(url.hostname) && !url.username && !url.password && !url.port && value.startsWith(`https://${url.hostname}/`);
  } catch {
    return false;
  }
}

/**
 * A profile from the client at login time is unsigned input: it may only seed a new account, and
 * WeChat's anonymous "微信用户" / grey avatar is treated as no profile at all.
 */
export function seedProfile(profile: { nickName?: string; avatarUrl?: string } | undefined): { nickname: string | null; avatarUrl: string | null } {
  const nickname = isAnonymousNickname(profile?.nickName) ? null : normalizeNickname(profile?.nickName);
  const avatarUrl = profile?.avatarUrl && !isAnonymousAvatar(profile.avatarUrl) && isWechatAvatarUrl(profile.avatarUrl) ? profile.avatarUrl : null;
  return { nickname, avatarUrl };
}

export function toPublicUser(user: UserRecord): PublicUser {
  return {
    id: user.id,
    nickname: user.nickname,
    avatarUrl: user.avatarUrl,
    profileComplete: !!user.nickname && !!user.avatarUrl,
    phoneMasked: user.phone ? maskPhone(user.phone.purePhoneNumber) : null,
    createdAt: user.createdAt.toISOString(),
  };
}

export function maskPhone(pure: string): string {
  return pure.length >= 7 ? `${pure.slice(0, 3)}****${pure.slice(-4)}` : '****';
}

/** The body every door answers a successful login with (the token appears here and nowhere else). */
/** What every login door produces once its session exists (the mini login, an OAuth handoff). */
export interface LoginResult {
  token: string;
  expiresAt: Date;
  user: UserRecord;
  isNewUser: boolean;
}

export function toLoginResponse(result: LoginResult): LoginResponse {
  return { token: result.token, expiresAt: result.expiresAt.toISOString(), user: toPublicUser(result.user), isNewUser: result.isNewUser };
}
