import { sha256Hex } from '../../crypto/tokens.js';
import type { Sealer } from '../../crypto/seal.js';
import { AppError, fromWechatError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { SessionManager } from '../../sessions/sessions.js';
import { DuplicateKeyError, type Store, type UserRecord } from '../../store/types.js';
import { openidKey, resolveAccount } from '../../users/accounts.js';
import { seedProfile } from '../../users/profile.js';
import type { Code2SessionResult } from '../../wechat/mini/jscode2session.js';

/**
 * Mini-program login: uni.login code → jscode2session → account → session.
 * Knows nothing about HTTP; `exchangeCode` is jscode2session bound to the app's credentials.
 */
export interface MiniLoginDeps {
  appid: string;
  store: Store;
  sessions: SessionManager;
  sealer: Sealer;
  logger: Logger;
  exchangeCode(code: string): Promise<Code2SessionResult>;
  clock?: () => Date;
}

export interface MiniLoginInput {
  code: string;
  profile?: { nickName?: string; avatarUrl?: string };
}

export interface MiniLoginResult {
  token: string;
  expiresAt: Date;
  user: UserRecord;
  isNewUser: boolean;
}

/** A login code lives 5 minutes at WeChat; its claim is kept a little longer. */
const CODE_CLAIM_MS = 10 * 60 * 1000;

export async function miniLogin(deps: MiniLoginDeps, input: MiniLoginInput): Promise<MiniLoginResult> {
  const now = deps.clock?.() ?? new Date();
  // Claim the code before WeChat sees it: a retry or a double tap with the same code is answered
  // here, without a second jscode2session call (which would only earn 40163).
  try {
    await deps.store.claim(`code:${deps.appid}:${sha256Hex(input.code)}`, new Date(now.getTime() + CODE_CLAIM_MS));
  } catch (error) {
    if (error instanceof DuplicateKeyError) throw new AppError('code_already_used');
    throw fromWechatError(error) ?? error;
  }

  let wx: Code2SessionResult;
  try {
    wx = await deps.exchangeCode(input.code);
  } catch (error) {
    throw fromWechatError(error) ?? error;
  }

  try {
    const key = openidKey(deps.appid, wx.openid);
    const { user, isNewUser } = await resolveAccount(
      deps.store,
      { appid: deps.appid, openid: wx.openid, unionid: wx.unionid, sessionKey: deps.sealer.seal(wx.sessionKey, key) },
      seedProfile(input.profile),
      now,
    );
    const { token, session } = await deps.sessions.create(user.id, 'mini');
    deps.logger.log('info', 'auth.mini.login', { userId: user.id, isNewUser, unionid: !!wx.unionid });
    return { token, expiresAt: session.expiresAt, user, isNewUser };
  } catch (error) {
    throw fromWechatError(error) ?? error;
  }
}
