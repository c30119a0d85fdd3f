import { retryOnceIfBusy } from '../retry.js';
import { WechatUnavailableError, type WechatTransport } from '../transport.js';

export interface SnsUserInfo {
  openid: string;
  nickname: string | null;
  /** '' or missing when the person has no avatar; may be http:// on old accounts */
  headimgurl: string | null;
  unionid: string | null;
  /** zh_CN | zh_TW | en (the `lang` asked for); null when absent */
  language: string | null;
}

interface SnsUserInfoBody {
  openid?: string;
  nickname?: string;
  headimgurl?: string;
  unionid?: string;
  language?: string;
}

/**
 * GET /sns/userinfo with the OAuth access_token of one person (docs/WECHAT.md "Browser OAuth").
 * A read, so a -1 (system busy) is retried once. Nicknames with raw control characters (invalid
 * JSON as sent) are parsed by the transport's lenient fallback.
 */
export async function snsUserInfo(transport: WechatTransport, accessToken: string, openid: string): Promise<SnsUserInfo> {
  const body = await retryOnceIfBusy(() => transport.get<SnsUserInfoBody>('/sns/userinfo', { access_token: accessToken, openid, lang: 'zh_CN' }));
  if (typeof body.openid !== 'string' || !body.openid) {
    throw new WechatUnavailableError('/sns/userinfo', 'bad_body', 'reply without openid');
  }
  return {
    openid: body.openid,
    nickname: typeof body.nickname === 'string' ? body.nickname : null,
    headimgurl: typeof body.headimgurl === 'string' && body.headimgurl ? body.headimgurl : null,
    unionid: typeof body.unionid === 'string' && body.unionid ? body.unionid : null,
    language: typeof body.language === 'string' && body.language ? body.language : null,
  };
}
