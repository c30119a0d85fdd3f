/**
 * The image of a parametric QR code: GET https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket=TICKET
 * (docs/WECHAT.md, facts §7 — "TICKET记得进行UrlEncode"; no token needed; an invalid ticket → 404).
 * A URL only: the browser loads it, or the page renders the code's own `url` itself.
 */
export const SHOWQRCODE_BASE = 'https://mp.weixin.qq.com';

export function showQrCodeUrl(ticket: string, base = SHOWQRCODE_BASE): string {
  return `${base.replace(/\/+$/, '')}/cgi-bin/showqrcode?ticket=${encodeURIComponent(ticket)}`;
}
