import type { z } from 'zod';
import { randomInt, timingSafeEqual } from 'node:crypto';
import { sha256Hex } from '../../crypto/tokens.js';
import type { ErrorCode } from '../../../../../shared/errors.js';
import { DEFAULT_NEXT, OA_SCOPE_BASE, OA_SCOPE_USERINFO } from '../../../../../shared/oauth.js';
import { AppError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { SessionManager } from '../../sessions/sessions.js';
import { claimOnce, defineRecord, type HeldRecord, type RecordKind, type Zod } from '../../store/records.js';
import { DuplicateKeyError, type SessionRecord, type Storage, type UserRecord } from '../../store/types.js';
import { currentUser, openidKey, resolveAccount, saveProfile, type ProfileSeed } from '../../users/accounts.js';
import type { UserEvents } from '../../users/hooks.js';
import { seedProfile, WECHAT_AVATAR_HOSTS, type LoginResult } from '../../users/profile.js';
import type { OAuthAccessToken } from '../../wechat/sns/oauth2_access_token.js';
import type { SnsUserInfo } from '../../wechat/sns/userinfo.js';
import type { Sealer } from '../../crypto/seal.js';
import { keepGrant } from './grants.js';

/**
 * WeChat's browser OAuth2 logins, without HTTP — one core for two doors:
 *   web: website QR login (微信扫码登录, website app on the open platform, /connect/qrconnect)
 *   oa:  official-account web authorization (公众号网页授权, H5 inside WeChat, /connect/oauth2/authorize)
 *
 *   start    → a random `state`, remembered 10 minutes, and WeChat's authorize URL
 *   callback → the state is claimed once, the code exchanged (sns/oauth2/access_token), the
 *              account resolved (unionid → the same user as the mini-program) and remembered in a
 *              one-time handoff record (60 s) — the record holds the user id, never a token
 *   handoff  → the browser that started the login takes it exactly once; only then is the session
 *              created, so nothing that could become a token is ever stored in `records`, and no
 *              seal key is involved (two instances with different keys cannot lose a login)
 * WeChat's access_token / refresh_token are used for one sns/userinfo call and then dropped.
 */
export interface OAuthDoor {
  /** names the routes (/api/auth/<name>), cookie, query parameters, records and log events */
  name: 'web' | 'oa' | 'pc';
  via: SessionRecord['via'];
  /** WeChat's browser-facing authorize page on openBaseUrl */
  authorizePath: '/connect/qrconnect' | '/connect/oauth2/authorize';
  /** the scopes this door may ask for; the first is the default */
  scopes: readonly [string, ...string[]];
  errors: { notConfigured: ErrorCode; stateInvalid: ErrorCode; stateUsed: ErrorCode; denied: ErrorCode };
  /**
   * Official account only (docs/WECHAT.md "Scopes, unionid, snapshot users"): snsapi_base yields no unionid, so it may only
   * recognise an openid we already know — an unknown one gets `consentRequired` (the page then asks
   * for snsapi_userinfo) instead of a second, empty account. A snapshot-page user (is_snapshotuser,
   * virtual openid) never creates or changes an account: `snapshotUser`.
   */
  oa?: { consentRequired: ErrorCode; snapshotUser: ErrorCode };
}

export interface OAuthLoginDeps {
  door: OAuthDoor;
  /** the app's AppID; null when the door is not configured */
  appid: string | null;
  /** browser-facing authorize host, e.g. https://open.weixin.qq.com */
  openBaseUrl: string;
  store: Pick<Storage, 'records' | 'accounts' | 'sessions'>;
  sessions: SessionManager;
  logger: Logger;
  /** the host's user hooks (users/hooks.ts): userCreated / usersMerged after the account is stored */
  userEvents?: UserEvents | undefined;
  exchangeCode(code: string): Promise<OAuthAccessToken>;
  getUserInfo(accessToken: string, openid: string): Promise<SnsUserInfo>;
  clock?: () => Date;
  /**
   * Keep the person's snsapi_userinfo grant, sealed, for 同步微信头像昵称 (./grants.ts): the official
   * account's door asks for it (`officialAccount({ keepGrant })`); absent/null: the grant is dropped
   * after the one sns/userinfo call.
   */
  keepGrant?: { sealer: Sealer } | null | undefined;
}

export const STATE_TTL_MS = 10 * 60 * 1000;
export const HANDOFF_TTL_MS = 60 * 1000;
export { DEFAULT_NEXT };
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
 * One versioned record per login attempt, `<door>-login:<sha256(state)>` (its expiry is judged by
 * store/records.ts only, on deps.clock):
 *   v1 { next, framed?, attemptId? }              started (10 minutes)
 *   v2 { userId, isNewUser }                      callback done (60 s); no token, nothing sealed
 *   v3 { taken: true }                            collected; the session exists only as its hash
 */
const LoginRecord = (z: Zod) => z.object({
  next: z.string().optional(),
  /** the PC login attempt this state confirms (the pc door's phone side): carried here, never in `next` */
  attemptId: z.string().optional(),
  framed: z.boolean().optional(),
  userId: z.string().optional(),
  isNewUser: z.boolean().optional(),
  taken: z.boolean().optional(),
});
/** The door's kind (a definition, holding no state: made per call). */
const loginRecords = (door: OAuthDoor): RecordKind<z.infer<ReturnType<typeof LoginRecord>>> => defineRecord({ prefix: `${door.name}-login`, schema: LoginRecord, ttlMs: STATE_TTL_MS });

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

/** snsapi_base did not find the person: the login page asks for consent and then continues to `next`. */
export class ConsentRequiredError extends AppError {
  constructor(code: ErrorCode, readonly next: string | null, readonly attemptId: string | null = null) {
    super(code);
  }
}

export interface OAuthLoginStart {
  state: string;
  authorizeUrl: string;
  expiresAt: Date;
}

export async function startOAuthLogin(
  deps: OAuthLoginDeps,
  input: {
    redirectUri: string;
    next?: string | null;
    scope?: string | null;
    /**
     * WxLogin with self_redirect true: the callback will load inside a cross-site iframe, where the
     * SameSite state cookie is not sent. Such a state's callback is accepted without the cookie; the
     * session still goes only to the browser holding it (takeOAuthHandoff), never to the iframe.
     */
    framed?: boolean;
    /** the PC login attempt the phone is confirming (pc door): kept in the state's record, handed back by the callback */
    attemptId?: string | null;
  },
): Promise<OAuthLoginStart> {
  const appid = requireConfigured(deps);
  const { door } = deps;
  // An unknown scope falls back to the door's default rather than failing the login.
  const scope = input.scope && door.scopes.includes(input.scope) ? input.scope : door.scopes[0];
  const state = generateState();
  const expiresAt = new Date(now(deps).getTime() + STATE_TTL_MS);
  const written = await loginRecords(door).create(deps, sha256Hex(state), { next: safeNext(input.next) ?? DEFAULT_NEXT, ...(input.framed ? { framed: true } : {}), ...(input.attemptId ? { attemptId: input.attemptId } : {}) }, { expiresAt });
  if (!written) throw new AppError('internal_error'); // 190 random bits collided: not expected
  const query = new URLSearchParams({ appid, redirect_uri: input.redirectUri, response_type: 'code', scope, state });
  return { state, expiresAt, authorizeUrl: `${deps.openBaseUrl}${door.authorizePath}?${query}#wechat_redirect` };
}

export interface OAuthCallbackInput {
  code: string | undefined;
  state: string | undefined;
  /** the state bound to this browser (cookie) */
  cookieState: string | undefined;
  /**
   * Runs right after the code exchange, before any account is found or created: may refuse the
   * person (throw) — e.g. a follow reply link opened by someone other than the scanner (http/routes/pc.ts).
   */
  checkPerson?: (who: { appid: string; openid: string }, bound: { next: string | null; attemptId: string | null }) => Promise<void>;
}

/** Completes WeChat's redirect. Returns where the H5 login page should continue (`next`). */
export async function completeOAuthCallback(deps: OAuthLoginDeps, input: OAuthCallbackInput): Promise<{ state: string; next: string; isNewUser: boolean; framed: boolean; attemptId: string | null }> {
  const appid = requireConfigured(deps);
  const { door } = deps;
  const at = now(deps);
  // The state must be the one this browser started (login CSRF), known and fresh… — except in
  // WxLogin's iframe (self_redirect true), which gets no cookie: there the state's own record must
  // say so, and the handoff still needs the cookie.
  const withoutCookie = !input.cookieState && typeof input.state === 'string' && STATE_PATTERN.test(input.state);
  if (!withoutCookie && !sameState(input.state, input.cookieState)) throw new AppError(door.errors.stateInvalid);
  const state = input.state!;
  const record = await loginRecords(door).read(deps, sha256Hex(state));
  if (withoutCookie && record?.value.framed !== true) throw new AppError(door.errors.stateInvalid);
  if (!record || record.value.userId || record.value.taken) {
    if (record) throw new AppError(door.errors.stateUsed);
    throw new AppError(door.errors.stateInvalid);
  }
  // …and used once: a replayed callback (back button, reload, a copied URL) stops here.
  try {
    await claimOnce(deps, `${door.name}-state-used:${sha256Hex(state)}`, record.expiresAt);
  } catch (error) {
    if (error instanceof DuplicateKeyError) throw new AppError(door.errors.stateUsed);
    throw error;
  }
  // A refused authorization comes back with the state only (用户禁止授权 → no code).
  if (!input.code) throw new AppError(door.errors.denied);
  if (!/^[A-Za-z0-9_-]{1,256}$/.test(input.code)) throw new AppError('code_invalid');

  // WeChat's errors on the code (40029, 40163, 42003…) mean what they mean on every door: the edge translates them.
  const wx: OAuthAccessToken = await deps.exchangeCode(input.code);
  const attemptId = record.value.attemptId ?? null;
  await input.checkPerson?.({ appid, openid: wx.openid }, { next: typeof record.value.next === 'string' ? safeNext(record.value.next) : null, attemptId });
  if (deps.keepGrant) await keepGrant({ appid, store: deps.store, sealer: deps.keepGrant.sealer, logger: deps.logger, clock: deps.clock }, wx);

  const { unionid } = wx;
  if (door.oa) {
    // A virtual account (快照页): nothing is created, linked or changed from it.
    if (wx.snapshotUser) {
      deps.logger.log('info', `auth.${door.name}.snapshot_user`, { scope: wx.scope });
      throw new AppError(door.oa.snapshotUser);
    }
    // snsapi_base: only a known openid logs in; the unionid that would link a mini-program
    // account comes with snsapi_userinfo only.
    if (wx.scope !== OA_SCOPE_USERINFO && !(await deps.store.accounts.getIdentity(openidKey(appid, wx.openid)))) {
      throw new ConsentRequiredError(door.oa.consentRequired, typeof record.value.next === 'string' ? safeNext(record.value.next) : null, attemptId);
    }
  }
  const resolved = await resolveAccount(deps.store, { appid, openid: wx.openid, unionid }, () => seedFromUserInfo(deps, wx), at, deps.userEvents);
  const { isNewUser } = resolved;
  const user = isNewUser ? resolved.user : await fillMissingProfile(deps, wx, resolved.user, at);
  // The session itself is created when the handoff is taken: what waits here is only who logged in.
  if (!(await loginRecords(door).update(deps, record, { userId: user.id, isNewUser }, { ttlMs: HANDOFF_TTL_MS }))) throw new AppError(door.errors.stateUsed);
  deps.logger.log('info', `auth.${door.name}.login`, { userId: user.id, isNewUser, unionid: !!unionid });
  const next = typeof record.value.next === 'string' ? safeNext(record.value.next) : null;
  return { state, next: next ?? DEFAULT_NEXT, isNewUser, framed: record.value.framed === true, attemptId };
}

/**
 * sns/userinfo, called by resolveAccount only for a person we do not know yet (neither this openid
 * nor their unionid): the nickname/avatar seed a new account and never overwrite an existing one.
 * A failing userinfo call does not fail the login — the person fills in the profile later.
 */
async function seedFromUserInfo(deps: OAuthLoginDeps, wx: OAuthAccessToken): Promise<ProfileSeed> {
  const none = { nickname: null, avatarUrl: null };
  // snsapi_base grants the openid only: sns/userinfo would answer 48001.
  if (wx.scope === OA_SCOPE_BASE) return none;
  try {
    const info = await deps.getUserInfo(wx.accessToken, wx.openid);
    if (info.openid !== wx.openid) return none;
    return seedProfile({ nickName: info.nickname ?? undefined, avatarUrl: httpsAvatar(info.headimgurl) });
  } catch (error) {
    deps.logger.log('warn', `auth.${deps.door.name}.userinfo_skipped`, { error });
    return none;
  }
}

/**
 * A known person who just allowed 昵称、头像 (snsapi_userinfo) but whose account has no nickname or
 * avatar (e.g. created by a mini-program login that skipped the fill-in): fill what is missing from
 * sns/userinfo; what they set themselves is never overwritten.
 */
async function fillMissingProfile(deps: OAuthLoginDeps, wx: OAuthAccessToken, user: UserRecord, at: Date): Promise<UserRecord> {
  if (wx.scope !== OA_SCOPE_USERINFO || (user.nickname && user.avatarUrl)) return user;
  const seed = await seedFromUserInfo(deps, wx);
  const patch = {
    ...(!user.nickname && seed.nickname ? { nickname: seed.nickname } : {}),
    ...(!user.avatarUrl && seed.avatarUrl ? { avatarUrl: seed.avatarUrl } : {}),
  };
  if (!Object.keys(patch).length) return user;
  const updated = await saveProfile(deps.store, user, patch, at);
  deps.logger.log('info', `auth.${deps.door.name}.profile_filled`, { userId: user.id, fields: Object.keys(patch) });
  return updated ?? user;
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

export type OAuthHandoffResult = LoginResult;

/**
 * The browser that started the login takes its session, once, within 60 s. The session is created
 * first (a store failure here leaves the handoff collectable), then exactly one taker wins the
 * record's next version; a loser's session is deleted again before its token ever leaves the process.
 */
export async function takeOAuthHandoff(deps: OAuthLoginDeps, input: { state: string; cookieState: string | undefined }): Promise<OAuthHandoffResult> {
  const handoff = await readHandoff(deps, input);
  const { token, session } = await deps.sessions.create(handoff.user, deps.door.via);
  let won = false;
  try {
    won = await markTaken(deps, handoff);
  } finally {
    if (!won) await deps.sessions.invalidate(token).catch(() => {});
  }
  if (!won) throw new AppError(deps.door.errors.stateUsed);
  return { token, expiresAt: session.expiresAt, user: handoff.user, isNewUser: handoff.isNewUser };
}

/**
 * Like takeOAuthHandoff, for a door whose login is not a session in this browser (the phone that
 * scanned a PC's QR code, flows/attempt): the browser that started the authorization takes WHO
 * logged in, once; no session is created.
 */
export async function takeOAuthIdentity(deps: OAuthLoginDeps, input: { state: string; cookieState: string | undefined }): Promise<{ user: UserRecord; isNewUser: boolean }> {
  const handoff = await readHandoff(deps, input);
  if (!(await markTaken(deps, handoff))) throw new AppError(deps.door.errors.stateUsed);
  return { user: handoff.user, isNewUser: handoff.isNewUser };
}

/** A completed callback's record, for the browser that started it (its cookie), not yet taken and fresh. */
async function readHandoff(deps: OAuthLoginDeps, input: { state: string; cookieState: string | undefined }) {
  requireConfigured(deps);
  const { door } = deps;
  if (!sameState(input.state, input.cookieState)) {
    // Without this browser's cookie nothing is handed out; but a handoff already taken (back
    // button, a reload after the cookie was cleared) says so rather than "登录已过期".
    const taken = STATE_PATTERN.test(input.state) ? await loginRecords(door).read(deps, sha256Hex(input.state)) : null;
    throw new AppError(taken?.value.taken ? door.errors.stateUsed : door.errors.stateInvalid);
  }
  const record = await loginRecords(door).read(deps, sha256Hex(input.state));
  if (record?.value.taken) throw new AppError(door.errors.stateUsed);
  // unknown, expired, or the callback has not happened (yet)
  if (!record || typeof record.value.userId !== 'string') throw new AppError(door.errors.stateInvalid);
  const user = await currentUser(deps.store, await deps.store.accounts.getUser(record.value.userId));
  if (!user) throw new AppError(door.errors.stateInvalid);
  return { record, user, isNewUser: !!record.value.isNewUser };
}

/** Exactly one taker wins the record's next version; the `taken` marker answers replays with state_used for as long as the state could have lived. */
async function markTaken(deps: OAuthLoginDeps, handoff: { record: HeldRecord<z.infer<ReturnType<typeof LoginRecord>>> }): Promise<boolean> {
  return (await loginRecords(deps.door).update(deps, handoff.record, { taken: true }, { ttlMs: STATE_TTL_MS })) !== null;
}
