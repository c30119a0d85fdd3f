import { createDecipheriv, createHash, createHmac, timingSafeEqual } from 'node:crypto';

/**
 * WeChat mini-program data crypto (docs/WECHAT.md "Mini-program open data"):
 * encryptedData is AES-128-CBC/PKCS#7 under the base64 session_key with the given iv, and its JSON
 * carries `watermark.appid`; rawData is signed as sha1(rawData + session_key).
 * Every failure is the same DecryptError — distinct errors would turn the endpoint into a padding oracle.
 */
export class DecryptError extends Error {
  constructor() {
    super('decrypt failed');
    this.name = 'DecryptError';
  }
}

const B64 = /^[A-Za-z0-9+/]+={0,2}$/;

function b64(value: string, bytes?: number): Buffer {
  if (typeof value !== 'string' || !B64.test(value) || value.length % 4 !== 0) throw new DecryptError();
  const buf = Buffer.from(value, 'base64');
  if (bytes !== undefined && buf.length !== bytes) throw new DecryptError();
  return buf;
}

export function decryptUserData(sessionKey: string, encryptedData: string, iv: string, appid: string): Record<string, unknown> {
  try {
    const key = b64(sessionKey, 16);
    const data = b64(encryptedData);
    if (data.length === 0 || data.length % 16 !== 0) throw new DecryptError();
    const decipher = createDecipheriv('aes-128-cbc', key, b64(iv, 16));
    const plain = Buffer.concat([decipher.update(data), decipher.final()]).toString('utf8');
    const json = JSON.parse(plain) as { watermark?: { appid?: unknown } };
    if (json === null || typeof json !== 'object' || json.watermark?.appid !== appid) throw new DecryptError();
    return json as Record<string, unknown>;
  } catch {
    throw new DecryptError();
  }
}

export function verifyRawDataSignature(rawData: string, signature: string, sessionKey: string): boolean {
  const expected = createHash('sha1').update(rawData + sessionKey).digest();
  if (typeof signature !== 'string' || !/^[0-9a-f]{40}$/i.test(signature)) return false;
  return timingSafeEqual(expected, Buffer.from(signature.toLowerCase(), 'hex'));
}

/** checksession / resetusersessionkey signature: HMAC-SHA256 keyed with the session_key string (UTF-8, not decoded). */
export function sessionKeySignature(sessionKey: string, message = ''): string {
  return createHmac('sha256', Buffer.from(sessionKey, 'utf8')).update(message).digest('hex');
}
