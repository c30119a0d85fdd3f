import { Hono } from 'hono';
import { getCookie, setCookie } from 'hono/cookie';
import { base62 } from './ids.js';
import type { SimState } from './state.js';
import { authorizeOrderError, checkAuthorize, errorPage, esc, page, USER } from './web.js';

/**
 * Official-account web authorization (公众号网页授权, docs/WECHAT.md "Browser OAuth"): the page
 * WeChat's in-app browser opens at open.weixin.qq.com/connect/oauth2/authorize. Outside WeChat
 * (no `MicroMessenger` in the User-Agent) it only says 请在微信客户端打开链接. snsapi_base
 * redirects at once; snsapi_userinfo asks 允许 / 拒绝 the first time per (app, person), then is
 * silent. Codes live 5 minutes (the website login's 10), single use, same sns/oauth2/access_token.
 *
 * The link's documented parameters must come first and in order (authorizeOrderError, web.ts).
 *
 * Who is "in" the WeChat client: `?sim_user=<name>` on the authorize URL (remembered in the
 * simulator's `sim_user` cookie), else that cookie, else alice. A person switched to the snapshot
 * page (POST /__sim/users/profile {"snapshot": true}) is redirected at once with a code for a
 * virtual account (is_snapshotuser: 1, §5).
 */
export const OA_SCOPES = ['snsapi_base', 'snsapi_userinfo'] as const;
export const CONSENT_TTL_MS = 10 * 60 * 1000;
export const SIM_USER_COOKIE = 'sim_user';

interface PendingConsent {
  appid: string;
  user: string;
  scope: string;
  redirectUri: string;
  state: string;
  expiresAt: number;
}

export class OaState {
  private readonly granted = new Set<string>();
  private readonly pending = new Map<string, PendingConsent>();

  constructor(private readonly clock: () => number) {}

  hasConsent(appid: string, user: string): boolean {
    return this.granted.has(`${appid}:${user}`);
  }

  /** The person withdrew the authorization: the next snsapi_userinfo asks again. */
  forget(appid: string, user: string): void {
    this.granted.delete(`${appid}:${user}`);
  }

  /** A consent page was shown: its ticket, valid 10 minutes. */
  ask(consent: Omit<PendingConsent, 'expiresAt'>): string {
    const now = this.clock();
    for (const [k, v] of this.pending) if (v.expiresAt <= now) this.pending.delete(k);
    const ticket = base62(24);
    this.pending.set(ticket, { ...consent, expiresAt: now + CONSENT_TTL_MS });
    return ticket;
  }

  /** 允许 / 拒绝: the pending request (once); 允许 also remembers the consent. */
  answer(ticket: string, allow: boolean): PendingConsent | null {
    const consent = this.pending.get(ticket);
    this.pending.delete(ticket);
    if (!consent || consent.expiresAt <= this.clock()) return null;
    if (allow) this.granted.add(`${consent.appid}:${consent.user}`);
    return consent;
  }
}

export function oaApi(state: SimState) {
  return new Hono()
    .get('/connect/oauth2/authorize', (c) => {
      if (!/MicroMessenger/i.test(c.req.header('user-agent') ?? '')) {
        return page('微信网页授权', '<h2 id="status" data-error="not_in_wechat">请在微信客户端打开链接</h2>');
      }
      const order = authorizeOrderError(new URL(c.req.url).searchParams);
      if (order) return errorPage(order);
      const q = c.req.query();
      const checked = checkAuthorize(state, q, 'oa', OA_SCOPES);
      if (checked instanceof Response) return checked;
      const user = q.sim_user || getCookie(c, SIM_USER_COOKIE) || 'alice';
      if (!USER.test(user)) return page('微信网页授权', '<p class="err">sim_user 只能包含 A-Za-z0-9_.-</p>', 400);
      if (q.sim_user) setCookie(c, SIM_USER_COOKIE, user, { path: '/', sameSite: 'Lax' });
      const { app, redirect, scope } = checked;
      if (state.people.get(user)?.snapshot) {
        // §5 快照页: the person browses a snapshot; the authorization yields a virtual account (is_snapshotuser: 1).
        return c.redirect(state.web.codeRedirect(app.appid, user, scope, redirect.toString(), checked.state, true), 302);
      }
      if (scope === 'snsapi_base' || state.oa.hasConsent(app.appid, user)) {
        return c.redirect(state.web.codeRedirect(app.appid, user, scope, redirect.toString(), checked.state), 302);
      }
      const ticket = state.oa.ask({ appid: app.appid, user, scope, redirectUri: redirect.toString(), state: checked.state });
      return page(
        '微信网页授权',
        `<h2>授权登录</h2><p>公众号 ${esc(app.appid)} 申请获得你的昵称、头像</p><p class="tip">模拟用户 ${esc(user)}</p>
<form method="post" action="/__sim/oa/consent" id="consent" data-ticket="${esc(ticket)}">
<input type="hidden" name="ticket" value="${esc(ticket)}">
<button id="allow" type="submit" name="action" value="allow">允许</button><button id="deny" type="submit" name="action" value="deny">拒绝</button>
</form>`,
      );
    })
    // 允许 → redirect_uri?code=CODE&state=STATE; 拒绝 → redirect_uri?state=STATE (no code).
    .post('/__sim/oa/consent', async (c) => {
      const form = await c.req.parseBody();
      const ticket = typeof form.ticket === 'string' ? form.ticket : '';
      const allow = form.action === 'allow';
      const consent = state.oa.answer(ticket, allow);
      if (!consent) return page('微信网页授权', '<p class="err" id="status">授权页面已失效，请重新打开</p>', 400);
      if (allow) return c.redirect(state.web.codeRedirect(consent.appid, consent.user, consent.scope, consent.redirectUri, consent.state), 302);
      const url = new URL(consent.redirectUri);
      url.searchParams.set('state', consent.state);
      return c.redirect(url.toString(), 302);
    });
}
