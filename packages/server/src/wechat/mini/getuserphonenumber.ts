import { WechatUnavailableError, type WechatTransport } from '../transport.js';

export interface PhoneInfo {
  phoneNumber: string;
  purePhoneNumber: string;
  countryCode: string;
  watermark: { timestamp: number; appid: string };
}

/** phonenumber.getPhoneNumber — POST /wxa/business/getuserphonenumber (JSON {code}). */
export async function getUserPhoneNumber(transport: WechatTransport, accessToken: string, code: string): Promise<PhoneInfo> {
  const body = await transport.postJson<{ phone_info?: Partial<PhoneInfo> & { countryCode?: string | number } }>(
    '/wxa/business/getuserphonenumber',
    { access_token: accessToken },
    { code },
  );
  const info = body.phone_info;
  if (!info || typeof info.phoneNumber !== 'string' || typeof info.purePhoneNumber !== 'string' || typeof info.watermark?.appid !== 'string') {
    throw new WechatUnavailableError('/wxa/business/getuserphonenumber', 'bad_body', 'reply without phone_info');
  }
  // Documented as a string, shown as a number in an example: accept both, keep a string.
  return { phoneNumber: info.phoneNumber, purePhoneNumber: info.purePhoneNumber, countryCode: String(info.countryCode ?? ''), watermark: info.watermark as PhoneInfo['watermark'] };
}
