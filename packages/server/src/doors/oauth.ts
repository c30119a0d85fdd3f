import type { OAuthRouteDeps } from '../http/routes/oauth.js';
import { oauth2AccessToken } from '../wechat/sns/oauth2_access_token.js';
import { snsUserInfo } from '../wechat/sns/userinfo.js';
import type { DoorApp, DoorCheckInput, DoorContext } from './door.js';
import { checkApp } from './door.js';

/** The shared dependencies of a browser OAuth door (website QR login, official account, the PC's phone side). */
export function oauthDeps(ctx: DoorContext, app: DoorApp | null): Omit<OAuthRouteDeps, 'door'> {
  const configured = app?.appid && app.secret ? app : null;
  return {
    appid: configured?.appid ?? null,
    openBaseUrl: ctx.openBaseUrl,
    urls: ctx.urls,
    production: ctx.production,
    store: ctx.store,
    sessions: ctx.sessions,
    logger: ctx.logger,
    clock: ctx.clock,
    userEvents: ctx.userEvents,
    exchangeCode: (code: string) => ctx.wechat.spend(configured?.appid, () => oauth2AccessToken(ctx.wechat.transport, configured!, code)),
    getUserInfo: (accessToken: string, openid: string) => ctx.wechat.spend(configured?.appid, () => snsUserInfo(ctx.wechat.transport, accessToken, openid)),
  };
}

/** A browser door's slice of the checks: once an AppID is given it must be complete and real, and redirect_uri needs the public origin. */
export function checkBrowserDoor(app: DoorApp | null, input: DoorCheckInput, door: { label: string; what: string; errorCode: string; registered: string }) {
  const problems: string[] = [];
  const notes: string[] = [];
  if (!app) {
    notes.push(`${door.what} is off: ${door.label}_APPID is not set; its endpoints answer ${door.errorCode}`);
    return { problems, notes };
  }
  problems.push(...checkApp(app, door.label));
  // Behind a mainland CDN the function sees the origin's Host, not the filed domain: production needs it explicit.
  if (!input.publicBaseUrl) {
    (input.deployment === 'development' ? notes : problems).push(`PUBLIC_BASE_URL is not set: ${door.what} derives its redirect_uri from the request host, which must be the domain registered as ${door.registered}${input.deployment === 'development' ? '' : ' — behind a CDN or proxy that is the origin host, so production and previews require it'}`);
  }
  return { problems, notes };
}
