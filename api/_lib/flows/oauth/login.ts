import { randomInt, timingSafeEqual } from 'node:crypto';
import { sha256Hex } from '../../crypto/tokens.js';
import type { Sealer } from '../../crypto/seal.js';
import type { ErrorCode } from '../../../../shared/errors.js';
import { AppError, fromWechatError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { SessionManager } from '../../sessions/sessions.js';
import { DuplicateKeyError, type SessionRecord, type Store, type UserRecord } from '../../store/types.js';
import { currentUser, resolveAccount, type ProfileSeed } from '../../users/accounts.js';
import { seedProfile, WECHAT_AVATAR_HOSTS } from '../../users/profile.js';
import type { OAuthAccessToken } from '../../wechat/sns/oauth2_access_token.js';
import type { SnsUserInfo } from '../../wechat/sns/userinfo.js';

/**
 * WeChat's browser OAuth2 logins, without HTTP — one core for two doors:
 *   web: website QR login (微信扫码登录, website app on the open platform, /connect/qrconnect)
 *   oa:  official-account web authorization (公众号网页授权, H5 inside WeChat, /connect/oauth2/authorize)
 *
 *   start    → a random `state`, remembered 10 minutes, and WeChat's authorize URL
 *   callback → the state is claimed once, the code exchanged (sns/oauth2/access_token), the
 *              account resolved (unionid → the same user as the mini-program), a session created
 *              and its token parked in a sealed one-time handoff record (60 s)
 *   handoff  → the browser that started the login takes the token exactly once
 * WeChat's access_token / refresh_token are used for one sns/userinfo call and then dropped.
 */
export interface OAuthDoor {
  /** names the routes (/api/auth/<name>), cookie, query parameters, records and log events */
  name: 'web' | 'oa';
  via: SessionRecord['via'];
  /** WeChat's browser-facing authorize page on openBaseUrl */
  authorizePath: '/connect/qrconnect' | '/connect/oauth2/authorize';
  /** the scopes this door may ask for; the first is the default */
  scopes: readonly [string, ...string[]];
  errors: { notConfigured: ErrorCode; stateInvalid: ErrorCode; stateUsed: ErrorCode; denied: ErrorCode };
}

export interface OAuthLoginDeps {
  door: OAuthDoor;
  /** the app's AppID; null when the door is not configured */
  appid: string | null;
  /** browser-facing authorize host, e.g. https://open.weixin.qq.com */
  openBaseUrl: string;
  store: Store;
  sessions: SessionManager;
  sealer: Sealer;
  logger: Logger;
  exchangeCode(code: string): Promise<OAuthAccessToken>;
  getUserInfo(accessToken: string, openid: string): Promise<SnsUserInfo>;
  clock?: () => Date;
}

export const STATE_TTL_MS = 10 * 60 * 1000;
export const HANDOFF_TTL_MS = 60 * 1000;
export const DEFAULT_NEXT = '/pages/account/index';
const STATE_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
export const STATE_PATTERN = /^[A-Za-z0-9]{32}$/;

export function generateState(): string {
  let out = '';
  for (let i = 0; i < 32; i++) out += STATE_CHARS[randomInt(STATE_CHARS.length)];
  return out;
}

/** Only a same-site path is accepted as `next`; anything else (//host, https://…, \…) is ignored. */
export function safeNext(next: string | undefined | null): string | null {
  if (typeof next !== 'string' || next.length > 512) return null;
  if (!next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return null;
  if (/[\u0000-\u001f\u007f\\]/.test(next)) return null;
  return next;
}

/**
 * One versioned record per login attempt, keyed by the state's hash:
 *   v1 { next, expiresAt }                       started (10 minutes)
 *   v2 { handoff: sealed token, …, expiresAt }   callback done (60 s)
 *   v3 { taken: true }                            token collected; nothing secret remains
 */
const loginRecordId = (door: OAuthDoor, state: string) => `${door.name}-login:${sha256Hex(state)}`;

function requireConfigured(deps: OAuthLoginDeps): string {
  if (!deps.appid) throw new AppError(deps.door.errors.notConfigured);
  return deps.appid;
}

function now(deps: OAuthLoginDeps): Date {
  return deps.clock?.() ?? new Date();
}

/** Constant-time comparison of the state in the URL/body with the one bound to the browser. */
function sameState(a: string | undefined, b: string | undefined): boolean {
  if (!a || !b || !STATE_PATTERN.test(a) || !STATE_PATTERN.test(b)) return false;
  return timingSafeEqual(Buffer.from(a), Buffer.from(b));
}

export interface OAuthLoginStart {
  state: string;
  authorizeUrl: string;
  expiresAt: Date;
}

export async function startOAuthLogin(
  deps: OAuthLoginDeps,
  input: { redirectUri: string; next?: string | null; scope?: string | null },
): Promise<OAuthLoginStart> {
  const appid = requireConfigured(deps);
  const { door } = deps;
  // An unknown scope falls back to the door's default rather than failing the login.
  const scope = input.scope && door.scopes.includes(input.scope) ? input.scope : door.scopes[0];
  const state = generateState();
  const expiresAt = new Date(now(deps).getTime() + STATE_TTL_MS);
  const written = await deps.store.compareAndSetRecord(loginRecordId(door, state), { next: safeNext(input.next) ?? DEFAULT_NEXT, expiresAt: expiresAt.toISOString() }, null, expiresAt);
  if (!written) throw new AppError('internal_error'); // 190 random bits collided: not expected
  const query = new URLSearchParams({ appid, redirect_uri: input.redirectUri, response_type: 'code', scope, state });
  return { state, expiresAt, authorizeUrl: `${deps.openBaseUrl}${door.authorizePath}?${query}#wechat_redirect` };
}

export interface OAuthCallbackInput {
  code: string | undefined;
  state: string | undefined;
  /** the state bound to this browser (cookie) */
  cookieState: string | undefined;
}

/** Completes WeChat's redirect. Returns where the H5 login page should continue (`next`). */
export async function completeOAuthCallback(deps: OAuthLoginDeps, input: OAuthCallbackInput): Promise<{ state: string; next: string; isNewUser: boolean }> {
  const appid = requireConfigured(deps);
  const { door } = deps;
  const at = now(deps);
  // The state must be the one this browser started (login CSRF), known and fresh…
  if (!sameState(input.state, input.cookieState)) throw new AppError(door.errors.stateInvalid);
  const state = input.state!;
  const record = await wrapStore(() => deps.store.getRecord(loginRecordId(door, state)));
  const expiresAt = typeof record?.value.expiresAt === 'string' ? new Date(record.value.expiresAt) : null;
  if (!record || record.value.handoff || record.value.taken) {
    if (record) throw new AppError(door.errors.stateUsed);
    throw new AppError(door.errors.stateInvalid);
  }
  if (!expiresAt || expiresAt.getTime() <= at.getTime()) throw new AppError(door.errors.stateInvalid);
  // …and used once: a replayed callback (back button, reload, a copied URL) stops here.
  try {
    await deps.store.claim(`${door.name}-state-used:${sha256Hex(state)}`, expiresAt);
  } catch (error) {
    if (error instanceof DuplicateKeyError) throw new AppError(door.errors.stateUsed);
    throw fromWechatError(error) ?? error;
  }
  // A refused authorization comes back with the state only (用户禁止授权 → no code).
  if (!input.code) throw new AppError(door.errors.denied);
  if (!/^[A-Za-z0-9_-]{1,256}$/.test(input.code)) throw new AppError('code_invalid');

  let wx: OAuthAccessToken;
  try {
    wx = await deps.exchangeCode(input.code);
  } catch (error) {
    throw fromWechatError(error) ?? error;
  }

  try {
    const { unionid } = wx;
    const { user, isNewUser } = await resolveAccount(deps.store, { appid, openid: wx.openid, unionid }, () => seedFromUserInfo(deps, wx), at);
    const { token, session } = await deps.sessions.create(user.id, door.via);
    const id = loginRecordId(door, state);
    const handoff = {
      handoff: deps.sealer.seal(token, id),
      userId: user.id,
      isNewUser,
      sessionExpiresAt: session.expiresAt.toISOString(),
      expiresAt: new Date(at.getTime() + HANDOFF_TTL_MS).toISOString(),
    };
    if (!(await deps.store.compareAndSetRecord(id, handoff as unknown as Record<string, unknown>, record.version, new Date(handoff.expiresAt)))) throw new AppError(door.errors.stateUsed);
    deps.logger.log('info', `auth.${door.name}.login`, { userId: user.id, isNewUser, unionid: !!unionid });
    const next = typeof record.value.next === 'string' ? safeNext(record.value.next) : null;
    return { state, next: next ?? DEFAULT_NEXT, isNewUser };
  } catch (error) {
    throw fromWechatError(error) ?? error;
  }
}

/**
 * sns/userinfo, called by resolveAccount only for a person we do not know yet (neither this openid
 * nor their unionid): the nickname/avatar seed a new account and never overwrite an existing one.
 * A failing userinfo call does not fail the login — the person fills in the profile later.
 */
async function seedFromUserInfo(deps: OAuthLoginDeps, wx: OAuthAccessToken): Promise<ProfileSeed> {
  const none = { nickname: null, avatarUrl: null };
  // snsapi_base grants the openid only: sns/userinfo would answer 48001.
  if (wx.scope === 'snsapi_base') return none;
  try {
    const info = await deps.getUserInfo(wx.accessToken, wx.openid);
    if (info.openid !== wx.openid) return none;
    return seedProfile({ nickName: info.nickname ?? undefined, avatarUrl: httpsAvatar(info.headimgurl) });
  } catch (error) {
    deps.logger.log('warn', `auth.${deps.door.name}.userinfo_skipped`, { error });
    return none;
  }
}

/** Old accounts may have http:// avatar URLs on WeChat's avatar hosts, which also serve https. */
function httpsAvatar(url: string | null): string | undefined {
  if (!url) return undefined;
  try {
    const parsed = new URL(url);
    if (parsed.protocol === 'http:' && WECHAT_AVATAR_HOSTS.includes(parsed.hostname)) parsed.protocol = 'https:';
    return parsed.toString();
  } catch {
    return undefined;
  }
}

export interface OAuthHandoffResult {
  token: string;
  expiresAt: Date;
  user: UserRecord;
  isNewUser: boolean;
}

/** The browser that started the login takes its session token, once, within 60 s. */
export async function takeOAuthHandoff(deps: OAuthLoginDeps, input: { state: string; cookieState: string | undefined }): Promise<OAuthHandoffResult> {
  requireConfigured(deps);
  const { door } = deps;
  if (!sameState(input.state, input.cookieState)) throw new AppError(door.errors.stateInvalid);
  const id = loginRecordId(door, input.state);
  const record = await wrapStore(() => deps.store.getRecord(id));
  const value = (record?.value ?? {}) as { handoff?: { kid: string; data: string }; userId?: string; isNewUser?: boolean; sessionExpiresAt?: string; expiresAt?: string; taken?: boolean };
  if (value.taken) throw new AppError(door.errors.stateUsed);
  // unknown, or the callback has not happened (yet)
  if (!record || !value.handoff) throw new AppError(door.errors.stateInvalid);
  if (!value.expiresAt || new Date(value.expiresAt).getTime() <= now(deps).getTime()) throw new AppError(door.errors.stateInvalid);
  // Exactly one taker wins the version; the sealed token is overwritten at the same time.
  // The `taken` marker answers replays with state_used for as long as the state could have lived.
  const takenUntil = new Date(now(deps).getTime() + STATE_TTL_MS);
  if (!(await wrapStore(() => deps.store.compareAndSetRecord(id, { taken: true }, record.version, takenUntil)))) {
    throw new AppError(door.errors.stateUsed);
  }
  const token = deps.sealer.open(value.handoff, id);
  const current = await wrapStore(async () => currentUser(deps.store, await deps.store.getUser(value.userId!)));
  if (!current) throw new AppError(door.errors.stateInvalid);
  return { token, expiresAt: new Date(value.sessionExpiresAt!), user: current, isNewUser: !!value.isNewUser };
}

async function wrapStore<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    throw fromWechatError(error) ?? error;
  }
}
