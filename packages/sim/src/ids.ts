import { createHmac, randomBytes, randomInt } from 'node:crypto';

const B62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

export function base62(length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += B62[randomInt(62)];
  return out;
}

/** Stable 28-character ids shaped like WeChat's (openid "o…", unionid "o…"), derived per app / per open platform. */
export function derivedId(seed: string, ...parts: string[]): string {
  const digest = createHmac('sha256', seed).update(parts.join('\u0000')).digest('base64url');
  return `o${digest.slice(0, 27)}`;
}

/** A request id suffix like WeChat's `rid: 623ea70a-74b9b592-3e3d489a`. */
export function rid(): string {
  const h = () => randomBytes(4).toString('hex');
  return `${h()}-${h()}-${h()}`;
}

export function sessionKey(): string {
  return randomBytes(16).toString('base64');
}
