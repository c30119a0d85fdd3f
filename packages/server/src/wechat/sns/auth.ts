import { WechatApiError, type WechatTransport } from '../transport.js';

/**
 * GET /sns/auth (docs/WECHAT.md, facts §5): whether an OAuth access_token is still valid for openid.
 * {"errcode":0} → true; 40003 / 40014 / 42001 / 42007 (invalid openid / token, token expired,
 * authorization withdrawn — the refresh that follows then says 42007 too) → false; anything else
 * propagates (transport errors).
 */
export async function snsAuth(transport: WechatTransport, accessToken: string, openid: string): Promise<boolean> {
  try {
    await transport.get<{ errcode?: number }>('/sns/auth', { access_token: accessToken, openid });
    return true;
  } catch (error) {
    if (error instanceof WechatApiError && [40003, 40014, 42001, 42007].includes(error.errcode)) return false;
    throw error;
  }
}
