import { describe, expect, it } from 'vitest';
import { DecryptError, decryptUserData, sessionKeySignature, verifyRawDataSignature } from '../packages/server/src/wechat/crypto.js';

// Official vectors, ../shared/wechat-api-facts.md §1 and §3.
const APPID = 'wx4f4bc4dec97d474b';
const SESSION_KEY = 'tiihtNczf5v6AKRyjwEUhQ==';
const IV = 'r7BXXKkLb8qrSNn05n0qiA==';
const DATA =
  'CiyLU1Aw2KjvrjMdj8YKliAjtP4gsMZMQmRzooG2xrDcvSnxIMXFufNstNGTyaGS9uT5geRa0W4oTOb1WT7fJlAC+oNPdbB+3hVbJSRgv+4lGOETKUQz6OYStslQ142dNCuabNPGBzlooOmB231qMM85d2/fV6ChevvXvQP8Hkue1poOFtnEtpyxVLW1zAo6/1Xx1COxFvrc2d7UL/lmHInNlxuacJXwu0fjpXfz/YqYzBIBzD6WUfTIF9GRHpOn/Hz7saL8xz+W//FRAUid1OksQaQx4CMs8LOddcQhULW4ucetDf96JcR3g0gfRK4PC7E/r7Z6xNrXd2UIeorGj5Ef7b1pJAYB6Y5anaHqZ9J6nKEBvB4DnNLIVWSgARns/8wR2SiRS7MNACwTyrGvt9ts8p12PKFdlqYTopNHR1Vf7XjfhQlVsAJdNiKdYmYVoKlaRv85IfVunYzO0IKXsyl7JCUjCpoG20f0a04COwfneQAGGwd5oa+T8yO5hzuyDb/XcxxmK01EpqOyuxINew==';

describe('WeChat data crypto', () => {
  it('decrypts the official demo vector', () => {
    const data = decryptUserData(SESSION_KEY, DATA, IV, APPID);
    expect(data).toMatchObject({ openId: 'oGZUI0egBJY1zhBYw2KhdUfwVJJE', nickName: 'Band', unionId: 'ocMvos6NjeKLIBqg5Mr9QjxrP1FA', watermark: { timestamp: 1477314187, appid: APPID } });
  });

  it('fails every bad input with the same error', () => {
    const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
    const cases: Array<[string, string, string, string]> = [
      [SESSION_KEY, DATA, IV, 'wx0000000000000000'], // watermark of another app
      ['AAAAAAAAAAAAAAAAAAAAAA==', DATA, IV, APPID], // wrong key → padding or JSON failure
      [SESSION_KEY, flip(DATA, DATA.length - 30), IV, APPID], // tampered last block → padding
      [SESSION_KEY, DATA, flip(IV, 0), APPID], // wrong iv → garbled first bytes → not JSON
      [SESSION_KEY, DATA.slice(0, 40), IV, APPID], // not a whole number of blocks
      [SESSION_KEY, '', IV, APPID],
      [SESSION_KEY, 'not base64!', IV, APPID],
      ['short', DATA, IV, APPID],
      [SESSION_KEY, DATA, 'AAAA', APPID],
    ];
    for (const [key, data, iv, appid] of cases) {
      let error: unknown;
      try {
        decryptUserData(key, data, iv, appid);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(DecryptError);
      expect((error as Error).message).toBe('decrypt failed');
    }
  });

  // Node's Buffer.from(…, 'base64') is lenient: it skips spaces, reads base64url and needs no padding, so
  // each spelling below decodes to exactly the bytes WeChat sent. The function must still refuse them:
  // WeChat sends padded standard base64 (wechat-api-facts.md §3), anything else did not come from it.
  it('refuses the right bytes in any spelling other than padded standard base64', () => {
    expect(DATA).toMatch(/[+/]/); // the vector has both characters base64url spells differently
    const spellings: Array<[string, string, string, string]> = [
      [SESSION_KEY, DATA.replaceAll('+', '-').replaceAll('/', '_'), IV, 'base64url data'],
      [SESSION_KEY, DATA, IV.replace(/=+$/, ''), 'iv without its padding'],
      [SESSION_KEY.replace(/=+$/, ''), DATA, IV, 'session_key without its padding'],
      [SESSION_KEY, `    ${DATA}`, IV, 'data after four spaces'],
      [SESSION_KEY, `${DATA}    `, IV, 'data followed by four spaces'],
      [SESSION_KEY, DATA, `${IV}\n\n\n\n`, 'iv followed by four newlines'],
    ];
    for (const [key, data, iv, label] of spellings) {
      let error: unknown;
      let result: unknown;
      try {
        result = decryptUserData(key, data, iv, APPID);
      } catch (e) {
        error = e;
      }
      expect(result, label).toBeUndefined();
      expect(error, label).toBeInstanceOf(DecryptError);
    }
  });

  it('verifies the official rawData signature vector', () => {
    const rawData = '{"nickName":"Band","gender":1,"language":"zh_CN","city":"Guangzhou","province":"Guangdong","country":"CN","avatarUrl":"http://wx.qlogo.cn/mmopen/vi_32/1vZvI39NWFQ9XM4LtQpFrQJ1xlgZxx3w7bQxKARol6503Iuswjjn6nIGBiaycAjAtpujxyzYsrztuuICqIM5ibXQ/0"}';
    expect(verifyRawDataSignature(rawData, '75e81ceda165f4ffa64f4068af58c64b8f54b88c', 'HyVFkGl5F5OQWJZZaNzBBg==')).toBe(true);
    expect(verifyRawDataSignature(rawData + ' ', '75e81ceda165f4ffa64f4068af58c64b8f54b88c', 'HyVFkGl5F5OQWJZZaNzBBg==')).toBe(false);
    expect(verifyRawDataSignature(rawData, 'zz', 'HyVFkGl5F5OQWJZZaNzBBg==')).toBe(false);
  });

  it('signs with the session_key string as the HMAC key (official example)', () => {
    expect(sessionKeySignature('o0q0otL8aEzpcZL/FT9WsQ==', '{"foo":"bar"}')).toBe('654571f79995b2ce1e149e53c0a33dc39c0a74090db514261454e8dbe432aa0b');
  });

  it('signs the empty message by default, as checksession / resetusersessionkey want (wechat-api-facts.md §1)', () => {
    // hmac_sha256(session_key, "") — computed with `printf '' | openssl dgst -sha256 -hmac 'o0q0otL8aEzpcZL/FT9WsQ=='`.
    expect(sessionKeySignature('o0q0otL8aEzpcZL/FT9WsQ==')).toBe('46e043c5525c2d817c44be603d30837a808a1d930d038f6fdc3e62a201fed128');
  });
});
