import { Hono } from 'hono';
import { createInFlightCodes } from '../flows/mini/login.js';
import { miniRoutes } from '../http/routes/mini.js';
import { PC_SCAN_DOOR } from '../http/routes/pc.js';
import { OA_DOOR } from '../flows/oa/door.js';
import { WEB_DOOR } from '../flows/web/door.js';
import { WEBVIEW_VIA } from '../flows/webview/ticket.js';
import { jscode2session } from '../wechat/mini/jscode2session.js';
import { getUserPhoneNumber } from '../wechat/mini/getuserphonenumber.js';
import type { PhoneDeps } from '../flows/mini/phone.js';
import { doorApp, DOOR_NAME, type Door, type DoorApp, type DoorContext } from './door.js';

export interface MiniProgramOptions {
  /** the mini-program's AppID (wx + 16 hex characters) */
  appid: string;
  /** its AppSecret (a secret) */
  secret: string;
  /**
   * Its routes' segment: <basePath>/<name>/login, /decrypt. Several mini-programs of one open-platform
   * account get one name each and share users through unionid. Its sessions carry `via: <name>`
   * (webviewTicket({ from }) mints only from them). @default 'mini'
   */
  name?: string | undefined;
  /** the variable names its problems are reported under (doctor, the production guard). @default 'WECHAT_MINI' for 'mini' */
  label?: string | undefined;
}

/** The session labels of the other shipped doors (store/types.ts SessionRecord.via): a mini door's name must not read as one. */
const OTHER_VIAS = [WEB_DOOR.via, OA_DOOR.via, PC_SCAN_DOOR.via, WEBVIEW_VIA];

export interface MiniProgramDoor extends Door {
  readonly kind: 'mini';
  readonly app: DoorApp;
}

/**
 * A mini-program (小程序登录): POST <name>/login {code} → jscode2session → the account (identities
 * `oid:<appid>:<openid>` / `uid:<unionid>`, so several mini-programs share one user per person);
 * POST <name>/decrypt (Bearer) → wx.getUserInfo's encrypted data opened with the session's key.
 */
export function miniProgram(options: MiniProgramOptions): MiniProgramDoor {
  const name = options.name ?? 'mini';
  if (!DOOR_NAME.test(name)) throw new TypeError(`miniProgram: name "${name}" must be lower-case letters, digits and - (a path segment)`);
  // its sessions' `via` is its name: it must not read as another door's
  if (OTHER_VIAS.includes(name)) throw new TypeError(`miniProgram: name "${name}" is another door's session label (${OTHER_VIAS.join(', ')})`);
  const label = options.label ?? (name === 'mini' ? 'WECHAT_MINI' : `miniProgram(${name})`);
  const app = doorApp(options) ?? { appid: '', secret: options.secret?.trim() ?? '' };
  const door: MiniProgramDoor = {
    kind: 'mini',
    name,
    app,
    allowed: { '/login': 'POST', '/decrypt': 'POST', '/phone': 'POST' },
    // decrypt needs a session (a login happened); the login and the phone spend WeChat calls
    limits: { '/login': 'address', '/decrypt': 'none', '/phone': 'address' },
    logsFailures: true,
    routes: (ctx) => {
      const deps = {
        appid: app.appid,
        name,
        store: ctx.store,
        sessions: ctx.sessions,
        sealer: ctx.sealer,
        logger: ctx.logger,
        clock: ctx.clock,
        userEvents: ctx.userEvents,
        inFlight: createInFlightCodes(), // this instance's own: nothing module-level (tests/isolation.test.ts)
        exchangeCode: (code: string) => ctx.wechat.spend(app.appid, () => jscode2session(ctx.wechat.transport, app, code)),
      };
      const decrypt = { appid: app.appid, store: ctx.store, sealer: ctx.sealer, sessions: ctx.sessions };
      return new Hono().use(ctx.limitBody).route('/', miniRoutes({ ...deps, decrypt, phone: phoneDeps(ctx, app) }));
    },
    publicInfo: () => (app.appid ? { name, kind: 'mini', appid: app.appid } : null),
    check: () => {
      const problems: string[] = [];
      if (!/^wx[0-9a-f]{16}$/.test(app.appid)) problems.push(`${label}_APPID is missing or not an AppID (wx + 16 hex characters)`);
      if (!/^[0-9a-f]{32}$/.test(app.secret)) problems.push(`${label}_SECRET is missing or not a 32-character AppSecret`);
      return { problems, notes: [] };
    },
  };
  return door;
}

/** getPhoneNumber bound with `app`'s own access_token and WeChat budget (<mini>/phone; /me/phone with the first mini door's). */
export function phoneDeps(ctx: Pick<DoorContext, 'store' | 'wechat'>, app: DoorApp): PhoneDeps {
  return {
    appid: app.appid,
    store: ctx.store,
    accessTokens: ctx.wechat.accessTokens(app),
    getPhoneNumber: (token, code) => ctx.wechat.spend(app.appid, () => getUserPhoneNumber(ctx.wechat.transport, token, code)),
  };
}
