import type { Hono } from 'hono';
import { setCookie } from 'hono/cookie';
import { SIM_USER_COOKIE } from './oa.js';
import type { SimState } from './state.js';
import { esc, page, USER } from './web.js';

/**
 * DEVELOPMENT ONLY (a /__sim control page): "open as the phone" — what WeChat on a phone does after
 * scanning a QR code, for the link the PC login card shows under its QR in development builds
 * (client/components/DevPhoneLink.vue). `GET /__sim/phone?user=<name>&qr=<the QR's content>`, or
 * `?user&appid&state` for a WxLogin iframe's QR (its uuid lives on the simulator's origin):
 * - a website-login QR → the simulator's phone page (确认登录 / 取消) as `user`;
 * - the official account's parametric QR (关注公众号登录) → `user` scans it (as POST /__sim/oa/scan:
 *   follow or SCAN event pushed to the server URL) and sees the chat: the reply and its links;
 * - any other http(s) URL (our own QR) → WeChat's in-app browser opens it as `user`.
 * The simulator stays as strict as WeChat: the official account's pages need WeChat's browser
 * (a MicroMessenger User-Agent); in another browser this page says so instead of redirecting.
 */
const WECHAT_UA_EXAMPLE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.50(0x1800323c) NetType/WIFI Language/zh_CN';

function needsWechatBrowser(links: string[]): string {
  return `<div id="needs-wechat" class="tip" style="text-align:left;max-width:560px;margin:16px auto">
<p><b>下一步需要微信内置浏览器</b>：本浏览器的 User-Agent 不含 <code>MicroMessenger</code>，微信的授权页会显示「请在微信客户端打开链接」。
请在开发者工具里打开设备模式（Chrome：DevTools → Network conditions → User agent），把 User-Agent 设为微信的，再打开下面的链接：</p>
<p><code style="word-break:break-all">${esc(WECHAT_UA_EXAMPLE)}</code></p>
<p>Next comes WeChat's in-app browser: set a User-Agent containing <code>MicroMessenger</code> (DevTools device mode), then open:</p>
${links.map((l) => `<p><a class="phone-open" href="${esc(l)}" style="word-break:break-all">${esc(l)}</a></p>`).join('\n')}
</div>`;
}

export function phoneLinkApi(state: SimState, app: Hono) {
  return async (c: import('hono').Context) => {
    const q = c.req.query();
    const user = q.user || 'alice';
    if (!USER.test(user)) return page('微信模拟器 · 手机', '<p class="err">user 只能包含 A-Za-z0-9_.-</p>', 400);
    const inWechat = /MicroMessenger/i.test(c.req.header('user-agent') ?? '');
    const origin = new URL(c.req.url).origin;

    // a WxLogin iframe's QR: the newest QR page opened for this app and state
    if (q.appid && q.state) {
      const qr = state.web.newestFor(q.appid, q.state);
      if (!qr) return page('微信模拟器 · 手机', '<p class="err" id="status">没有找到这个二维码，请在电脑上刷新二维码</p>', 404);
      return c.redirect(`/__sim/web/scan/${qr.uuid}?${new URLSearchParams({ user })}`, 302);
    }
    const content = q.qr ?? '';
    let url: URL;
    try {
      url = new URL(content);
    } catch {
      return page('微信模拟器 · 手机', '<p class="err" id="status">二维码内容不是链接</p>', 400);
    }
    // the website-login QR: the simulator's own phone page
    const web = /^\/__sim\/web\/scan\/([0-9a-f]+)$/.exec(url.pathname);
    if (web && url.origin === origin) return c.redirect(`/__sim/web/scan/${web[1]}?${new URLSearchParams({ user })}`, 302);

    // the official account's parametric QR: scan it and show the chat
    if (state.oaServer.findQr(content)) {
      const res = await app.request(`${origin}/__sim/oa/scan`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user, qr: content }) });
      const scan = (await res.json()) as { error?: string; newFollower?: boolean; shown?: string | null; open?: string[] };
      if (!res.ok) return page('微信模拟器 · 手机', `<p class="err" id="status">${esc(scan.error ?? '扫码失败')}</p>`, res.status as 400);
      const open = scan.open ?? [];
      const chat = scan.shown ? `<div id="reply" style="background:#fff;border:1px solid #eee;border-radius:8px;padding:12px;max-width:420px;margin:12px auto;text-align:left">${esc(scan.shown.replace(/<[^>]+>/g, ''))}</div>` : '<p class="tip">公众号没有回复</p>';
      const links = inWechat
        ? open.map((l) => `<p><a class="phone-open button" href="${esc(l)}">在微信中打开回复里的链接</a></p>`).join('\n')
        : open.length
          ? needsWechatBrowser(open)
          : '';
      return page('微信模拟器 · 手机', `<h2>公众号消息</h2><p class="tip" id="event">${esc(user)} ${scan.newFollower ? '扫码关注了公众号' : '扫码（已关注）'}</p>${chat}${links}`);
    }

    // any other web page: WeChat's in-app browser opens it as this person
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return page('微信模拟器 · 手机', '<p class="err" id="status">二维码内容不是网页链接</p>', 400);
    setCookie(c, SIM_USER_COOKIE, user, { path: '/', sameSite: 'Lax' });
    if (inWechat) return c.redirect(url.toString(), 302);
    return page('微信模拟器 · 手机', `<h2>微信扫一扫</h2><p class="tip">${esc(user)} 扫到了一个网页链接，微信会在内置浏览器中打开它。</p>${needsWechatBrowser([url.toString()])}`);
  };
}
