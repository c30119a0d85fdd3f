import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Server-URL signatures (docs/WECHAT.md, facts §8, §9): sha1 over the lexicographically sorted values,
 * joined without separator, lowercase hex.
 *   signature     = sha1(sort(token, timestamp, nonce))            — GET verification, plaintext POST
 *   msg_signature = sha1(sort(token, timestamp, nonce, Encrypt))   — safe / compatible mode
 */
export function pushSignature(...values: string[]): string {
  return createHash('sha1').update([...values].sort().join('')).digest('hex');
}

/** Constant-time comparison of a received signature with the expected one (never throws). */
export function signatureMatches(received: string | undefined | null, ...values: string[]): boolean {
  if (typeof received !== 'string' || !/^[0-9a-fA-F]{40}$/.test(received)) return false;
  return timingSafeEqual(Buffer.from(pushSignature(...values), 'hex'), Buffer.from(received.toLowerCase(), 'hex'));
}
