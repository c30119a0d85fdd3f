import { WechatUnavailableError, type WechatTransport } from '../transport.js';

export interface WebAppCredentials {
  appid: string;
  secret: string;
}

export interface OAuthAccessToken {
  accessToken: string;
  /** 30 days at WeChat; the website login never keeps it. */
  refreshToken: string;
  expiresIn: number;
  openid: string;
  unionid: string | null;
  scope: string;
  /** official account: the person is on a snapshot page (快照页) — openid/unionid are virtual (§5) */
  snapshotUser: boolean;
}

interface OAuthAccessTokenBody {
  access_token?: string;
  expires_in?: number;
  refresh_token?: string;
  openid?: string;
  scope?: string;
  unionid?: string;
  is_snapshotuser?: number;
}

/**
 * Website app (and official account) OAuth code exchange —
 * GET /sns/oauth2/access_token (docs/WECHAT.md "Browser OAuth").
 * The returned tokens are secrets: callers must not store, return or log them.
 */
export async function oauth2AccessToken(transport: WechatTransport, app: WebAppCredentials, code: string): Promise<OAuthAccessToken> {
  const body = await transport.get<OAuthAccessTokenBody>('/sns/oauth2/access_token', {
    appid: app.appid,
    secret: app.secret,
    code,
    grant_type: 'authorization_code',
  });
  if (typeof body.access_token !== 'string' || !body.access_token || typeof body.openid !== 'string' || !body.openid) {
    throw new WechatUnavailableError('/sns/oauth2/access_token', 'bad_body', 'reply without access_token/openid');
  }
  return {
    accessToken: body.access_token,
    refreshToken: typeof body.refresh_token === 'string' ? body.refresh_token : '',
    expiresIn: typeof body.expires_in === 'number' ? body.expires_in : 7200,
    openid: body.openid,
    unionid: typeof body.unionid === 'string' && body.unionid ? body.unionid : null,
    scope: typeof body.scope === 'string' ? body.scope : '',
    snapshotUser: body.is_snapshotuser === 1 || String(body.is_snapshotuser) === '1',
  };
}
