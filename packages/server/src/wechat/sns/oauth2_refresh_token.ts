import { WechatUnavailableError, type WechatTransport } from '../transport.js';

export interface RefreshedOAuthToken {
  accessToken: string;
  expiresIn: number;
  /** WeChat may hand back a new refresh_token; keep it sealed like the first */
  refreshToken: string;
  openid: string;
  scope: string;
}

/**
 * GET /sns/oauth2/refresh_token (docs/WECHAT.md, facts §5): a fresh OAuth access_token from the
 * refresh_token of a web authorization (30 days, not renewable). 42002 (expired), 40030 (invalid)
 * and 42007 (password changed) mean the person must authorize again — the caller decides.
 * Both tokens are secrets: never returned to a browser, never logged.
 */
export async function oauth2RefreshToken(transport: WechatTransport, appid: string, refreshToken: string): Promise<RefreshedOAuthToken> {
  const body = await transport.get<{ access_token?: string; expires_in?: number; refresh_token?: string; openid?: string; scope?: string }>('/sns/oauth2/refresh_token', {
    appid,
    grant_type: 'refresh_token',
    refresh_token: refreshToken,
  });
  if (typeof body.access_token !== 'string' || !body.access_token || typeof body.openid !== 'string' || !body.openid) {
    throw new WechatUnavailableError('/sns/oauth2/refresh_token', 'bad_body', 'reply without access_token/openid');
  }
  return {
    accessToken: body.access_token,
    expiresIn: typeof body.expires_in === 'number' ? body.expires_in : 7200,
    refreshToken: typeof body.refresh_token === 'string' && body.refresh_token ? body.refresh_token : refreshToken,
    openid: body.openid,
    scope: typeof body.scope === 'string' ? body.scope : '',
  };
}
