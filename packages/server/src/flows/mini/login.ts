import { sha256Hex } from '../../crypto/tokens.js';
import type { Sealer } from '../../crypto/seal.js';
import { AppError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { SessionManager } from '../../sessions/sessions.js';
import type { Storage } from '../../store/types.js';
import { openidKey, resolveAccount } from '../../users/accounts.js';
import type { UserEvents } from '../../users/hooks.js';
import { seedProfile, type LoginResult } from '../../users/profile.js';
import type { Code2SessionResult } from '../../wechat/mini/jscode2session.js';
import { WechatApiError } from '../../wechat/transport.js';

/**
 * Mini-program login: uni.login code → jscode2session → account → session.
 * Knows nothing about HTTP; `exchangeCode` is jscode2session bound to the app's credentials.
 */
export interface MiniLoginDeps {
  appid: string;
  /** the door's name: the session's `via` and the log events (`auth.<name>.login`); several mini-programs are told apart. @default 'mini' */
  name?: string;
  store: Pick<Storage, 'records' | 'accounts' | 'sessions' | 'warm'>;
  sessions: SessionManager;
  sealer: Sealer;
  logger: Logger;
  /** the host's user hooks (users/hooks.ts): userCreated / usersMerged after the account is stored */
  userEvents?: UserEvents | undefined;
  exchangeCode(code: string): Promise<Code2SessionResult>;
  /**
   * Codes being exchanged by THIS instance right now (sha256 of appid:code), one set per instance
   * (`createInFlightCodes()` in the composition root): a module-level set would let a second
   * instance in the same process (another tenant, staging beside production) refuse a code it never
   * saw. A double tap sends one code twice at once: the second request is answered 409 without a
   * jscode2session call. A code used before (sequentially, or on another instance) is refused by
   * WeChat itself with 40163, which the mini door answers as 409 code_already_used too; a code whose
   * call failed before WeChat could spend it (-1, 45011, HTTP 5xx, connection refused) stays usable
   * for a retry. There is no database claim: a returning login has room for two round trips and
   * needs both (docs/API.md).
   */
  inFlight: InFlightCodes;
  clock?: () => Date;
}

/** The codes one instance is exchanging right now (see MiniLoginDeps.inFlight). */
export type InFlightCodes = Set<string>;
export const createInFlightCodes = (): InFlightCodes => new Set<string>();

export interface MiniLoginInput {
  code: string;
  profile?: { nickName?: string; avatarUrl?: string };
}

export type MiniLoginResult = LoginResult;


export async function miniLogin(deps: MiniLoginDeps, input: MiniLoginInput): Promise<MiniLoginResult> {
  const now = deps.clock?.() ?? new Date();
  const flight = sha256Hex(`${deps.appid}:${input.code}`);
  const inFlight = deps.inFlight;
  if (inFlight.has(flight)) throw new AppError('code_already_used');
  inFlight.add(flight);
  try {
    // The code exchange needs no storage: a cold instance loads its driver and connects meanwhile.
    deps.store.warm?.();
    let wx: Code2SessionResult;
    try {
      wx = await deps.exchangeCode(input.code);
    } catch (error) {
      // docs/WECHAT.md "jscode2session": a second use of a code answers 40163 "code been used".
      // Other WeChat errors mean the same on every door: the HTTP edge translates them.
      if (error instanceof WechatApiError && error.errcode === 40163) throw new AppError('code_already_used', undefined, { cause: error });
      throw error;
    }

    const key = openidKey(deps.appid, wx.openid);
    const { user, isNewUser } = await resolveAccount(deps.store, { appid: deps.appid, openid: wx.openid, unionid: wx.unionid }, seedProfile(input.profile), now, deps.userEvents);
    // The session_key of THIS login rides on the session it creates (docs/ACCOUNTS.md "Where
    // session_key lives"): a returning login reads the identity and writes one session.
    const wxSessionKey = { identity: key, sealed: deps.sealer.seal(wx.sessionKey, key) };
    const { token, session } = await deps.sessions.create(user, deps.name ?? 'mini', { wxSessionKey });
    deps.logger.log('info', `auth.${deps.name ?? 'mini'}.login`, { userId: user.id, isNewUser, unionid: !!wx.unionid });
    return { token, expiresAt: session.expiresAt, user, isNewUser };
  } finally {
    inFlight.delete(flight);
  }
}
