import { WechatUnavailableError, type WechatTransport } from '../transport.js';

export interface SnsUserInfo {
  openid: string;
  nickname: string | null;
  /** '' or missing when the person has no avatar; may be http:// on old accounts */
  headimgurl: string | null;
  unionid: string | null;
}

interface SnsUserInfoBody {
  openid?: string;
  nickname?: string;
  headimgurl?: string;
  unionid?: string;
}

/** GET /sns/userinfo with the OAuth access_token of one person (../shared/wechat-api-facts.md §5). */
export async function snsUserInfo(transport: WechatTransport, accessToken: string, openid: string): Promise<SnsUserInfo> {
  const body = await transport.get<SnsUserInfoBody>('/sns/userinfo', { access_token: accessToken, openid, lang: 'zh_CN' });
  if (typeof body.openid !== 'string' || !body.openid) {
    throw new WechatUnavailableError('/sns/userinfo', 'bad_body', 'reply without openid');
  }
  return {
    openid: body.openid,
    nickname: typeof body.nickname === 'string' ? body.nickname : null,
    headimgurl: typeof body.headimgurl === 'string' && body.headimgurl ? body.headimgurl : null,
    unionid: typeof body.unionid === 'string' && body.unionid ? body.unionid : null,
  };
}
