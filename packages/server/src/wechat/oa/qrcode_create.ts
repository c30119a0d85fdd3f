import { WechatUnavailableError, type WechatTransport } from '../transport.js';

export interface TemporaryQrCode {
  ticket: string;
  /** seconds, as WeChat granted them */
  expireSeconds: number;
  /** the content encoded in the QR image (http://weixin.qq.com/q/…) */
  url: string;
}

/** §7: scene_str 1..64 characters; temporary codes live at most 30 days (2592000 s). */
export const SCENE_STR = /^[\x21-\x7e]{1,64}$/;
export const MAX_QR_EXPIRE_SECONDS = 2_592_000;

/**
 * A temporary string-scene parametric QR code — POST /cgi-bin/qrcode/create with action_name
 * QR_STR_SCENE (docs/WECHAT.md, facts §7). Only verified service accounts (认证服务号) may call it.
 * Not retried: each call creates a new code.
 */
export async function createTemporaryQrCode(transport: WechatTransport, accessToken: string, scene: string, expireSeconds: number): Promise<TemporaryQrCode> {
  if (!SCENE_STR.test(scene)) throw new RangeError('scene_str must be 1..64 visible ASCII characters');
  if (!Number.isInteger(expireSeconds) || expireSeconds < 60 || expireSeconds > MAX_QR_EXPIRE_SECONDS) throw new RangeError('expire_seconds must be 60..2592000');
  const body = await transport.postJson<{ ticket?: string; expire_seconds?: number; url?: string }>(
    '/cgi-bin/qrcode/create',
    { access_token: accessToken },
    { expire_seconds: expireSeconds, action_name: 'QR_STR_SCENE', action_info: { scene: { scene_str: scene } } },
  );
  if (typeof body.ticket !== 'string' || !body.ticket || typeof body.url !== 'string' || !body.url) {
    throw new WechatUnavailableError('/cgi-bin/qrcode/create', 'bad_body', 'reply without ticket/url');
  }
  return { ticket: body.ticket, expireSeconds: typeof body.expire_seconds === 'number' ? body.expire_seconds : expireSeconds, url: body.url };
}
