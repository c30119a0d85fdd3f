import { retryOnceIfBusy } from '../retry.js';
import { WechatUnavailableError, type WechatTransport } from '../transport.js';
import type { MiniAppCredentials } from '../mini/jscode2session.js';

export interface StableToken {
  accessToken: string;
  expiresIn: number;
}

/**
 * auth.getStableAccessToken — POST /cgi-bin/stable_token (JSON only). Never cgi-bin/token: that one
 * invalidates every other holder's token for the appid.
 */
export const STABLE_TOKEN_PATH = '/cgi-bin/stable_token';

export async function stableToken(transport: WechatTransport, app: MiniAppCredentials, forceRefresh: boolean): Promise<StableToken> {
  // Safe to repeat: a -1 (system busy) is retried once.
  const body = await retryOnceIfBusy(() =>
    transport.postJson<{ access_token?: string; expires_in?: number }>(STABLE_TOKEN_PATH, {}, {
      grant_type: 'client_credential',
      appid: app.appid,
      secret: app.secret,
      force_refresh: forceRefresh,
    }),
  );
  if (typeof body.access_token !== 'string' || !body.access_token || typeof body.expires_in !== 'number') {
    // errcode 0 but no token: not an answer WeChat documents — treated like any other bad body.
    throw new WechatUnavailableError(STABLE_TOKEN_PATH, 'bad_body', 'reply without access_token/expires_in');
  }
  return { accessToken: body.access_token, expiresIn: body.expires_in };
}
