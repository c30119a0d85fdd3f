import { WechatUnavailableError, type WechatTransport } from '../transport.js';

export interface MiniAppCredentials {
  appid: string;
  secret: string;
}

export interface Code2SessionResult {
  openid: string;
  sessionKey: string;
  unionid: string | null;
}

interface Code2SessionBody {
  openid?: string;
  session_key?: string;
  unionid?: string;
}

/** auth.code2Session — GET /sns/jscode2session (docs/WECHAT.md "jscode2session"). */
export async function jscode2session(transport: WechatTransport, app: MiniAppCredentials, code: string): Promise<Code2SessionResult> {
  const body = await transport.get<Code2SessionBody>('/sns/jscode2session', {
    appid: app.appid,
    secret: app.secret,
    js_code: code,
    grant_type: 'authorization_code',
  });
  if (typeof body.openid !== 'string' || !body.openid || typeof body.session_key !== 'string' || !body.session_key) {
    throw new WechatUnavailableError('/sns/jscode2session', 'bad_body', 'reply without openid/session_key');
  }
  return { openid: body.openid, sessionKey: body.session_key, unionid: typeof body.unionid === 'string' && body.unionid ? body.unionid : null };
}
