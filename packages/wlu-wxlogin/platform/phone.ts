/**
 * What the phone-number button (open-type="getPhoneNumber") reported, as a code to send or a
 * Chinese message saying why the number is not available and what the person can do.
 * Phone-number verification is a paid capability of verified, non-personal mini-programs
 * (charged per successful call since late August 2023, with a free trial quota); an exhausted
 * quota is `errno 1400001` (docs/WECHAT.md, facts §2).
 */
import { privacyErrorKind } from './privacy';

export interface PhoneButtonDetail {
  errMsg?: string;
  code?: string;
  errno?: number;
}

export const MSG_PHONE_DENIED = '你已取消授权手机号，需要时可再次点击“绑定手机号”';
export const MSG_PHONE_QUOTA = '本小程序的手机号验证次数已用完，暂时无法绑定手机号，请稍后再试或联系客服';
export const MSG_PHONE_NOT_VERIFIED = '本小程序尚未开通手机号快速验证（需完成微信认证），暂时无法绑定手机号';
export const MSG_PHONE_PRIVACY = '未同意《用户隐私保护指引》，无法绑定手机号；同意后可再次点击“绑定手机号”';
export const MSG_PHONE_UNAVAILABLE = '暂时无法获取手机号，请稍后再试';

export function phoneButtonResult(detail: PhoneButtonDetail | undefined): { code: string } | { message: string } {
  const errMsg = detail?.errMsg ?? '';
  if (detail?.code && /:ok$/.test(errMsg || ':ok')) return { code: detail.code };
  if (detail?.errno === 1400001) return { message: MSG_PHONE_QUOTA };
  if (privacyErrorKind(detail)) return { message: MSG_PHONE_PRIVACY };
  if (/deny|cancel/i.test(errMsg)) return { message: MSG_PHONE_DENIED };
  // unverified / personal mini-programs have no access to the capability
  if (/no permission|not verified|unauthorized|permission/i.test(errMsg) || detail?.errno === 102) return { message: MSG_PHONE_NOT_VERIFIED };
  return { message: MSG_PHONE_UNAVAILABLE };
}
