/** What the phone-number button reported, as a code to send or a Chinese message to show. */
export interface PhoneButtonDetail {
  errMsg?: string;
  code?: string;
  errno?: number;
}

export const MSG_PHONE_DENIED = '已取消授权手机号';
export const MSG_PHONE_QUOTA = '手机号验证次数已用完，请稍后再试';
export const MSG_PHONE_FAILED = '获取手机号失败，请重试';

export function phoneButtonResult(detail: PhoneButtonDetail | undefined): { code: string } | { message: string } {
  if (detail?.code && /:ok$/.test(detail.errMsg ?? ':ok')) return { code: detail.code };
  if (detail?.errno === 1400001) return { message: MSG_PHONE_QUOTA };
  if (/deny|cancel/i.test(detail?.errMsg ?? '')) return { message: MSG_PHONE_DENIED };
  return { message: MSG_PHONE_FAILED };
}
