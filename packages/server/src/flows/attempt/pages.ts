import type { ConfirmationPage } from './attempt.js';
import { differentRegions, type NetworkLocation } from './location.js';

/**
 * The phone's pages (WeChat's in-app browser), rendered by the API: no script at all, so the
 * strict Content-Security-Policy below holds; 确认 / 取消 are a form POST carrying a one-time nonce.
 * `frame-ancestors 'none'`: no other site can frame the page to trick a tap.
 */
export const PHONE_PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/** inline SVG icons (no emoji font is needed, nothing is loaded) */
const ICONS = {
  pc: '<svg class="icon" viewBox="0 0 64 64" aria-hidden="true"><rect x="8" y="12" width="48" height="32" rx="3" fill="none" stroke="#07c160" stroke-width="4"/><path d="M24 52h16M32 44v8" stroke="#07c160" stroke-width="4" stroke-linecap="round"/></svg>',
  ok: '<svg class="icon" viewBox="0 0 64 64" aria-hidden="true"><circle cx="32" cy="32" r="28" fill="#07c160"/><path d="M19 33l9 9 17-19" fill="none" stroke="#fff" stroke-width="5" stroke-linecap="round" stroke-linejoin="round"/></svg>',
  stop: '<svg class="icon" viewBox="0 0 64 64" aria-hidden="true"><circle cx="32" cy="32" r="28" fill="#b2b2b2"/><path d="M22 22l20 20M42 22L22 42" stroke="#fff" stroke-width="5" stroke-linecap="round"/></svg>',
  warn: '<svg class="icon" viewBox="0 0 64 64" aria-hidden="true"><circle cx="32" cy="32" r="28" fill="#fa5151"/><path d="M32 18v18" stroke="#fff" stroke-width="5" stroke-linecap="round"/><circle cx="32" cy="45" r="3.5" fill="#fff"/></svg>',
  user: '<svg class="icon" viewBox="0 0 64 64" aria-hidden="true"><circle cx="32" cy="24" r="11" fill="#07c160"/><path d="M12 56c2-12 10-18 20-18s18 6 20 18" fill="#07c160"/></svg>',
};

const esc = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

export function phonePage(title: string, body: string): string {
  return `<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="referrer" content="no-referrer"><title>${esc(title)}</title>
<style>
body{margin:0;font-family:-apple-system,BlinkMacSystemFont,"PingFang SC","Microsoft YaHei",sans-serif;background:#f7f7f7;color:#191919}
main{max-width:420px;margin:0 auto;padding:48px 24px;text-align:center}
.icon{width:64px;height:64px;margin:0 auto 16px;display:block}
h1{font-size:20px;font-weight:600;margin:0 0 16px}
.device{background:#fff;border-radius:12px;padding:16px;margin:16px 0 24px;text-align:left;font-size:15px;line-height:1.8}
.device span{color:#888;display:inline-block;width:5em}
.tip{color:#888;font-size:13px;line-height:1.6}
button,.button{display:block;width:100%;box-sizing:border-box;border:0;border-radius:8px;font-size:17px;padding:12px;margin:12px 0;text-decoration:none}
.primary{background:#07c160;color:#fff}.secondary{background:#f2f2f2;color:#07c160}
.err{color:#fa5151}
.alert{background:#fff1f0;border:2px solid #fa5151;border-radius:12px;padding:14px 16px;margin:16px 0;text-align:left;font-size:16px;line-height:1.6;color:#c9302c;font-weight:600}
.alert small{display:block;font-weight:400;font-size:14px;color:#7a2420;margin-top:4px}
.ask{font-size:16px;font-weight:600;margin:20px 0 4px}
.picks{display:flex;gap:12px;margin:12px 0}
.picks button{flex:1;margin:0;font-size:26px;font-weight:700;letter-spacing:2px;background:#fff;color:#191919;border:2px solid #07c160;padding:14px 0}
</style></head><body><main>${body}</main></body></html>`;
}

function formatTime(date: Date): string {
  // China Standard Time, as the person reads it (UTC+8, no DST)
  const cst = new Date(date.getTime() + 8 * 3600_000);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${cst.getUTCFullYear()}-${pad(cst.getUTCMonth() + 1)}-${pad(cst.getUTCDate())} ${pad(cst.getUTCHours())}:${pad(cst.getUTCMinutes())}:${pad(cst.getUTCSeconds())}`;
}

/** The warning every confirmation page carries, where nobody can miss it (QR relay, docs/SECURITY.md). */
export const RELAY_WARNING = '如果不是你本人正在电脑前操作，或者有人把这个链接/二维码发给你，请点「取消」';

const where = (l: NetworkLocation) => (l.masked ? `${l.label}（${l.masked}）` : l.label);

/**
 * 确认在电脑上登录？ — what the phone shows before the person decides: the warning first; where the PC
 * is (region and masked address from its network address — the one thing on the page an attacker
 * cannot choose) and, in red, when that is not where this phone is; the PC's browser and system
 * (from its User-Agent: chosen by whoever runs the PC); then 确认 as three two-digit buttons — the
 * person picks the digits the PC shows (a wrong pick cancels) — and 取消.
 */
export function confirmPageHtml(page: ConfirmationPage & { pcLocation: NetworkLocation; phoneLocation: NetworkLocation }, appName: string, action: string): string {
  const { view, nonce, choices, pcLocation, phoneLocation } = page;
  const elsewhere = differentRegions(pcLocation, phoneLocation);
  return phonePage(
    '确认登录',
    `${ICONS.pc}
<h1 id="title">确认在电脑上登录？</h1>
<p class="tip">你正在登录「${esc(appName)}」的电脑端。</p>
<div class="alert" id="relay-warning" role="alert">${esc(RELAY_WARNING)}</div>
${elsewhere ? `<div class="alert" id="region-warning" role="alert">电脑所在地与你的手机不一致<small>电脑在 ${esc(pcLocation.label)}，你的手机在 ${esc(phoneLocation.label)}。如果那台电脑不在你身边，请点「取消」。</small></div>
` : ''}<div class="device" id="device">
<div><span>电脑位置</span><b id="pc-location">${esc(where(pcLocation))}</b></div>
<div><span>你的位置</span><b id="phone-location">${esc(where(phoneLocation))}</b></div>
<div><span>浏览器</span><b id="browser">${esc(view.device.browser)}</b></div>
<div><span>系统</span><b id="os">${esc(view.device.os)}</b></div>
<div><span>请求时间</span><b id="time">${esc(formatTime(view.createdAt))}</b></div>
</div>
<form method="post" action="${esc(action)}">
<input type="hidden" name="nonce" value="${esc(nonce)}">
<p class="ask" id="ask">请选择电脑屏幕上显示的数字</p>
<div class="picks" id="picks">
${choices.map((digits) => `<button class="pick" type="submit" name="pick" value="${esc(digits)}">${esc(digits)}</button>`).join('\n')}
</div>
<p class="tip">看不到电脑屏幕上的数字？那就不是你在登录，请点「取消」。选错数字会取消此次登录。</p>
<button class="secondary" id="cancel" type="submit" name="action" value="cancel">取消</button>
</form>`,
  );
}

export function resultPageHtml(kind: 'confirmed' | 'cancelled' | 'error', message: string): string {
  const icon = kind === 'confirmed' ? ICONS.ok : kind === 'cancelled' ? ICONS.stop : ICONS.warn;
  const title = kind === 'confirmed' ? '已确认登录' : kind === 'cancelled' ? '已取消登录' : '无法登录';
  return phonePage(title, `${icon}<h1 id="title" data-kind="${kind}">${esc(title)}</h1><p class="${kind === 'error' ? 'err' : 'tip'}" id="message">${esc(message)}</p>`);
}

export function consentPageHtml(scanUrl: string): string {
  return phonePage(
    '微信授权',
    `${ICONS.user}<h1 id="title">请先完成微信授权</h1>
<p class="tip">首次通过公众号登录，需要获取你的微信昵称、头像：已有账号将登录原账号，还没有账号将为你创建。授权后请在下一页确认电脑登录。</p>
<a class="button primary" id="consent" href="${esc(scanUrl)}">微信授权并继续</a>`,
  );
}
