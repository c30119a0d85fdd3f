/** Request and response shapes of the HTTP API (see docs/API.md). */

export interface PublicUser {
  id: string;
  nickname: string | null;
  avatarUrl: string | null;
  /** true once the user has given a real nickname and avatar (not WeChat's anonymous "微信用户"). */
  profileComplete: boolean;
  /** the verified phone number, masked for display (e.g. 139****5678); null until shared */
  phoneMasked: string | null;
  createdAt: string;
}

export interface MiniLoginRequest {
  code: string;
  profile?: { nickName?: string; avatarUrl?: string };
}

export interface LoginResponse {
  token: string;
  expiresAt: string;
  user: PublicUser;
  /** true when this login created the account. */
  isNewUser: boolean;
}

export interface MeResponse {
  user: PublicUser;
  /** GET /api/auth/me only: the session's current expiry (ISO 8601); it slides while the session is used. */
  expiresAt?: string;
}

export interface UpdateMeRequest {
  nickname?: string;
  avatarUrl?: string;
}

export const NICKNAME_MAX_LENGTH = 32;

/** What `uni.getUserProfile` returns since 2022-11-08: never stored as a real profile. */
export const ANONYMOUS_NICKNAME = '微信用户';
export const ANONYMOUS_AVATAR_PATH = '/mmopen/vi_32/POgEwh4mIHO4nibH0KlMECNjjGxQUq24ZEaGT4poC6icRiccVGKSyXwibcPq4BWmiaIGuG1icwxaQX6grC9VemZoJ8rg/132';

export function isAnonymousNickname(nickname: string | null | undefined): boolean {
  return !nickname || nickname.trim() === ANONYMOUS_NICKNAME;
}

export function isAnonymousAvatar(url: string | null | undefined): boolean {
  if (!url) return true;
  try {
    return new URL(url).pathname === ANONYMOUS_AVATAR_PATH;
  } catch {
    return true;
  }
}

/** A PC login attempt's statuses (GET <basePath>/pc/status, the events stream), in the order they happen. */
export const ATTEMPT_STATUSES = ['waiting', 'scanned', 'confirmed', 'cancelled', 'taken', 'expired'] as const;
export type AttemptStatus = (typeof ATTEMPT_STATUSES)[number];
/** Statuses after which the attempt never changes again. */
export const FINAL_ATTEMPT_STATUSES: readonly AttemptStatus[] = ['confirmed', 'cancelled', 'taken', 'expired'];

/** What the PC page is told about its attempt. */
export interface AttemptState {
  status: AttemptStatus;
  version: number;
  expiresAt: string;
  /** the two digits the person picks on the phone's confirmation page (number matching, docs/SECURITY.md) */
  match: string;
}

/** One door of GET <basePath>/doors: names and public AppIDs only, never a secret (the server's doors/*.ts publicInfo). */
export interface DoorInfo {
  /** its path segment, <basePath>/<name>/* */
  name: string;
  kind: 'mini' | 'web' | 'oa' | 'pc' | 'follow' | 'webview' | (string & {});
  /** the door's own AppID (mini, web, oa) */
  appid?: string;
  /** pc, follow: the official-account door it goes through */
  via?: string;
  /** webview: the mini-program door whose sessions mint its tickets */
  from?: string;
}

/** GET <basePath>/doors */
export interface DoorsResponse {
  doors: DoorInfo[];
}
