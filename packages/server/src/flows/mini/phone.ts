import { AppError } from '../../errors.js';
import type { Storage, UserRecord } from '../../store/types.js';
import { saveProfile } from '../../users/accounts.js';
import type { AccessTokens } from '../../wechat/access-token.js';
import { WechatApiError } from '../../wechat/transport.js';
import type { PhoneInfo } from '../../wechat/mini/getuserphonenumber.js';

export interface PhoneDeps {
  appid: string;
  store: Pick<Storage, 'accounts' | 'sessions'>;
  accessTokens: AccessTokens;
  getPhoneNumber(accessToken: string, code: string): Promise<PhoneInfo>;
}

/**
 * Saves the phone number the person agreed to share. The number is trusted only because it comes
 * from WeChat's server-to-server getuserphonenumber call with our token — never from client data.
 */
export async function savePhoneNumber(deps: PhoneDeps, user: UserRecord, code: string, now: Date): Promise<UserRecord> {
  let info: PhoneInfo;
  try {
    info = await deps.accessTokens.withToken((token) => deps.getPhoneNumber(token, code));
  } catch (error) {
    if (error instanceof WechatApiError && (error.errcode === 40029 || error.errcode === 40163)) throw new AppError('phone_code_invalid', undefined, { cause: error });
    throw error; // the rest means the same everywhere: translated at the HTTP edge
  }
  if (info.watermark.appid !== deps.appid) throw new AppError('phone_code_invalid');
  const updated = await saveProfile(
    deps.store,
    user,
    { phone: { phoneNumber: info.phoneNumber, purePhoneNumber: info.purePhoneNumber, countryCode: info.countryCode, verifiedAt: now } },
    now,
  );
  if (!updated) throw new AppError('unauthorized');
  return updated;
}
