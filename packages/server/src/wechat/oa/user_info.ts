import { retryOnceIfBusy } from '../retry.js';
import { WechatUnavailableError, type WechatTransport } from '../transport.js';

export interface FollowerInfo {
  openid: string;
  /** 0: the person does not follow the account (then WeChat returns nothing else) */
  subscribed: boolean;
  /** only when the official account is bound to an open platform account (§10) */
  unionid: string | null;
}

/**
 * cgi-bin/user/info — a follower's basic information by openid, with the account's access_token.
 * Nickname and avatar are no longer returned by WeChat (2021 change); what matters here is the
 * unionid, which makes a follower the same account as the mini-program / website person (§10).
 * A read, so a -1 is retried once.
 */
export async function getFollowerInfo(transport: WechatTransport, accessToken: string, openid: string): Promise<FollowerInfo> {
  const body = await retryOnceIfBusy(() =>
    transport.get<{ subscribe?: number; openid?: string; unionid?: string }>('/cgi-bin/user/info', { access_token: accessToken, openid, lang: 'zh_CN' }),
  );
  if (typeof body.openid !== 'string' || !body.openid) throw new WechatUnavailableError('/cgi-bin/user/info', 'bad_body', 'reply without openid');
  return { openid: body.openid, subscribed: body.subscribe === 1, unionid: typeof body.unionid === 'string' && body.unionid ? body.unionid : null };
}
