import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { EncryptedValue } from '../store/types.js';

/**
 * Authenticated encryption at rest (AES-256-GCM) for secrets we must keep, such as WeChat's
 * session_key. Keys come from the environment as `kid:base64key[,kid:base64key…]`; the first
 * key seals, every listed key can open (rotation: prepend a new key, keep the old one until the
 * old values have been re-sealed by the next login).
 */
export interface Sealer {
  seal(plaintext: string, context: string): EncryptedValue;
  open(value: EncryptedValue, context: string): string;
}

export class SealKeyError extends Error {}

export function parseSealKeys(spec: string): Map<string, Buffer> {
  const keys = new Map<string, Buffer>();
  for (const part of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const at = part.indexOf(':');
    if (at <= 0) throw new SealKeyError('each key must look like kid:base64key');
    const kid = part.slice(0, at);
    const key = Buffer.from(part.slice(at + 1), 'base64');
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(kid)) throw new SealKeyError(`bad key id "${kid}"`);
    if (key.length !== 32) throw new SealKeyError(`key "${kid}" must be 32 bytes (base64)`);
    keys.set(kid, key);
  }
  if (keys.size === 0) throw new SealKeyError('no encryption key given');
  return keys;
}

export function createSealer(keys: Map<string, Buffer>): Sealer {
  const [currentKid, currentKey] = keys.entries().next().value as [string, Buffer];
  return {
    seal(plaintext, context) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', currentKey, iv);
      // The context (e.g. the identity key) is bound as associated data: a sealed value copied
      // onto another record does not open.
      cipher.setAAD(Buffer.from(context));
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return { kid: currentKid, data: Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url') };
    },
    open(value, context) {
      const key = keys.get(value.kid);
      if (!key) throw new SealKeyError(`unknown key id "${value.kid}"`);
      const raw = Buffer.from(value.data, 'base64url');
      const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
      decipher.setAAD(Buffer.from(context));
      decipher.setAuthTag(raw.subarray(raw.length - 16));
      return Buffer.concat([decipher.update(raw.subarray(12, raw.length - 16)), decipher.final()]).toString('utf8');
    },
  };
}
