import { WEB_DOOR } from '../flows/web/door.js';
import { oauthRoutes } from '../http/routes/oauth.js';
import { Hono } from 'hono';
import { doorApp, type Door } from './door.js';
import { checkBrowserDoor, oauthDeps } from './oauth.js';

export interface WebsiteQrOptions {
  /** the website app's AppID (open platform 网站应用); empty: listed but off (web_login_not_configured) */
  appid: string;
  /** its AppSecret (a secret) */
  secret: string;
  /** the variable names its problems are reported under. @default 'WECHAT_WEB' */
  label?: string | undefined;
}

export interface WebsiteQrDoor extends Door {
  readonly kind: 'web';
}

/**
 * Website QR login (微信扫码登录): GET web/qr → qrconnect; POST web/embed → WxLogin's options;
 * GET web/callback; POST web/session (flows/web/door.ts + the OAuth core).
 */
export function websiteQr(options: WebsiteQrOptions): WebsiteQrDoor {
  const app = doorApp(options);
  const label = options.label ?? 'WECHAT_WEB';
  return {
    kind: 'web',
    name: WEB_DOOR.name,
    app,
    allowed: { '/qr': 'GET', '/embed': 'POST', '/callback': 'GET', '/session': 'POST' },
    limits: { '/*': 'address' },
    logsFailures: true,
    routes: (ctx) => new Hono().use(ctx.limitBody).route('/', oauthRoutes({ ...oauthDeps(ctx, app), door: WEB_DOOR }, '/qr', { embeddable: true })),
    publicInfo: () => (app ? { name: WEB_DOOR.name, kind: 'web', appid: app.appid } : null),
    check: (input) =>
      checkBrowserDoor(app, input, { label, what: 'Website QR login (微信扫码登录)', errorCode: 'web_login_not_configured', registered: '授权回调域 on the open platform' }),
  };
}
