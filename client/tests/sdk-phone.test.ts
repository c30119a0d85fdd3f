// Base-library comparison (getUserProfile only below 2.27.1, wechat-api-facts.md §2) and the
// phone-number button's outcomes in words a person can act on (errno 1400001 = no quota, §2).
import { expect, it } from 'vitest';
import { compareVersion, userProfileYieldsRealData } from '../uni_modules/wlu-wxlogin/platform/sdk';
import { MSG_PHONE_DENIED, MSG_PHONE_NOT_VERIFIED, MSG_PHONE_PRIVACY, MSG_PHONE_QUOTA, MSG_PHONE_UNAVAILABLE, phoneButtonResult } from '../uni_modules/wlu-wxlogin/platform/phone';

it('Should compare base-library versions part by part, not as strings', () => {
  expect(compareVersion('2.9.0', '2.27.1')).toBeLessThan(0); // as strings '2.9.0' > '2.27.1'
  expect(compareVersion('2.27.1', '2.27.1')).toBe(0);
  expect(compareVersion('2.27.10', '2.27.1')).toBeGreaterThan(0);
  expect(compareVersion('3.0', '2.32.3')).toBeGreaterThan(0);
});

it('Should call getUserProfile only where it still yields real data (below 2.27.1)', () => {
  expect(userProfileYieldsRealData('2.9.0')).toBe(true);
  expect(userProfileYieldsRealData('2.27.0')).toBe(true);
  expect(userProfileYieldsRealData('2.27.1')).toBe(false);
  expect(userProfileYieldsRealData('3.5.0')).toBe(false);
  expect(userProfileYieldsRealData('')).toBe(false);
});

it('Should explain why a phone number is unavailable instead of 获取手机号失败，请重试', () => {
  expect(phoneButtonResult({ errMsg: 'getPhoneNumber:ok', code: 'abc12345' })).toEqual({ code: 'abc12345' });
  expect(phoneButtonResult({ errMsg: 'getPhoneNumber:fail', errno: 1400001 })).toEqual({ message: MSG_PHONE_QUOTA });
  expect(phoneButtonResult({ errMsg: 'getPhoneNumber:fail user deny' })).toEqual({ message: MSG_PHONE_DENIED });
  expect(phoneButtonResult({ errMsg: 'getPhoneNumber:fail no permission' })).toEqual({ message: MSG_PHONE_NOT_VERIFIED });
  expect(phoneButtonResult({ errMsg: 'getPhoneNumber:fail privacy permission is not authorized', errno: 104 })).toEqual({ message: MSG_PHONE_PRIVACY });
  expect(phoneButtonResult({ errMsg: 'getPhoneNumber:fail something else' })).toEqual({ message: MSG_PHONE_UNAVAILABLE });
  for (const text of [MSG_PHONE_QUOTA, MSG_PHONE_DENIED, MSG_PHONE_NOT_VERIFIED, MSG_PHONE_PRIVACY, MSG_PHONE_UNAVAILABLE]) {
    expect(text).not.toContain('获取手机号失败，请重试');
  }
});
