import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { pushSignature, signatureMatches } from './signature.js';

/**
 * WXBizMsgCrypt — the official account's safe-mode message encryption (docs/WECHAT.md, facts §9):
 *   AESKey = base64(EncodingAESKey + '=') (32 bytes), IV = AESKey[0..16], AES-256-CBC,
 *   plaintext = random(16) | msg_len (4 bytes, big-endian) | msg | appid, PKCS#7 with block size 32.
 *   msg_signature = sha1(sort(token, timestamp, nonce, Encrypt)).
 * Several keys may be configured (current first, then the previous one during an EncodingAESKey
 * rotation): a message is decrypted with whichever key opens it and the reply is encrypted with
 * that same key. Every failure is one MsgCryptError with a WXBizMsgCrypt code, never a crash.
 */
export type MsgCryptFailure =
  | 'signature' //       -40001 ValidateSignature_Error
  | 'aes_key' //         -40004 IllegalAesKey
  | 'appid' //           -40005 ValidateAppid_Error
  | 'decrypt' //         -40007 DecryptAES_Error / -40008 IllegalBuffer / -40010 DecodeBase64_Error
  | 'base64';

export class MsgCryptError extends Error {
  constructor(readonly reason: MsgCryptFailure) {
    super(`WXBizMsgCrypt: ${reason}`);
    this.name = 'MsgCryptError';
  }
}

export const ENCODING_AES_KEY = /^[A-Za-z0-9]{43}$/;
const BLOCK = 32;
const B64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** The 32-byte AES key of a 43-character EncodingAESKey. */
export function aesKeyOf(encodingAesKey: string): Buffer {
  if (!ENCODING_AES_KEY.test(encodingAesKey)) throw new MsgCryptError('aes_key');
  const key = Buffer.from(`${encodingAesKey}=`, 'base64');
  if (key.length !== 32) throw new MsgCryptError('aes_key');
  return key;
}

export function pkcs7Pad(data: Buffer): Buffer {
  const n = BLOCK - (data.length % BLOCK);
  return Buffer.concat([data, Buffer.alloc(n, n)]);
}

/** Accepts pad values 1..32 (§9: decryptors must); anything else is a broken message. */
export function pkcs7Unpad(data: Buffer): Buffer {
  const n = data.at(-1) ?? 0;
  if (n < 1 || n > BLOCK || n > data.length) throw new MsgCryptError('decrypt');
  for (let i = data.length - n; i < data.length; i++) if (data[i] !== n) throw new MsgCryptError('decrypt');
  return data.subarray(0, data.length - n);
}

export interface MsgCryptOptions {
  token: string;
  appid: string;
  /** EncodingAESKeys, current first; later ones are only used to open messages (rotation). */
  encodingAesKeys: string[];
}

export interface Decrypted {
  message: string;
  /** index into encodingAesKeys of the key that opened it (the reply uses the same key) */
  keyIndex: number;
}

export interface EncryptedReply {
  encrypt: string;
  msgSignature: string;
  timestamp: string;
  nonce: string;
}

export class MsgCrypt {
  private readonly keys: Buffer[];

  constructor(private readonly options: MsgCryptOptions) {
    if (!options.encodingAesKeys.length) throw new MsgCryptError('aes_key');
    this.keys = options.encodingAesKeys.map(aesKeyOf);
  }

  /** Encrypt `message` under key `keyIndex`; `random` (16 bytes) only for reproducing vectors. */
  encrypt(message: string, keyIndex = 0, random: Buffer = randomBytes(16)): string {
    const key = this.keys[keyIndex];
    if (!key || random.length !== 16) throw new MsgCryptError('aes_key');
    const body = Buffer.from(message, 'utf8');
    const length = Buffer.alloc(4);
    length.writeUInt32BE(body.length);
    const plain = pkcs7Pad(Buffer.concat([random, length, body, Buffer.from(this.options.appid, 'utf8')]));
    const cipher = createCipheriv('aes-256-cbc', key, key.subarray(0, 16));
    cipher.setAutoPadding(false);
    return Buffer.concat([cipher.update(plain), cipher.final()]).toString('base64');
  }

  /** Opens `encrypt` with the first key that yields a well-formed payload for our appid. */
  decrypt(encrypt: string): Decrypted {
    if (typeof encrypt !== 'string' || !B64.test(encrypt) || encrypt.length % 4 !== 0) throw new MsgCryptError('base64');
    const data = Buffer.from(encrypt, 'base64');
    if (data.length === 0 || data.length % 16 !== 0) throw new MsgCryptError('decrypt');
    let failure: MsgCryptError = new MsgCryptError('decrypt');
    for (let keyIndex = 0; keyIndex < this.keys.length; keyIndex++) {
      try {
        return { message: this.openWith(this.keys[keyIndex]!, data), keyIndex };
      } catch (error) {
        // an appid mismatch under a key that decrypts cleanly is the more telling failure
        if (error instanceof MsgCryptError && error.reason === 'appid') failure = error;
      }
    }
    throw failure;
  }

  private openWith(key: Buffer, data: Buffer): string {
    const decipher = createDecipheriv('aes-256-cbc', key, key.subarray(0, 16));
    decipher.setAutoPadding(false);
    let plain: Buffer;
    try {
      plain = pkcs7Unpad(Buffer.concat([decipher.update(data), decipher.final()]));
    } catch {
      throw new MsgCryptError('decrypt');
    }
    if (plain.length < 20) throw new MsgCryptError('decrypt');
    const length = plain.readUInt32BE(16);
    if (20 + length > plain.length) throw new MsgCryptError('decrypt');
    const appid = plain.subarray(20 + length).toString('utf8');
    if (appid !== this.options.appid) throw new MsgCryptError('appid');
    return plain.subarray(20, 20 + length).toString('utf8');
  }

  /** msg_signature check, then decrypt (the order WXBizMsgCrypt.DecryptMsg uses). */
  decryptSigned(encrypt: string, msgSignature: string | undefined, timestamp: string, nonce: string): Decrypted {
    if (!signatureMatches(msgSignature, this.options.token, timestamp, nonce, encrypt)) throw new MsgCryptError('signature');
    return this.decrypt(encrypt);
  }

  /** A reply encrypted and signed (EncryptMsg); `keyIndex` = the key the message came in under. */
  encryptReply(message: string, keyIndex: number, timestamp: string, nonce: string, random?: Buffer): EncryptedReply {
    const encrypt = this.encrypt(message, keyIndex, random);
    return { encrypt, msgSignature: pushSignature(this.options.token, timestamp, nonce, encrypt), timestamp, nonce };
  }
}
