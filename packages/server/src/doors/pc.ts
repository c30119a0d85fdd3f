import { Hono } from 'hono';
import { pcAttemptIdOf, pcRoutes } from '../http/routes/pc.js';
import type { Door } from './door.js';
import { followOf } from './follow.js';
import { pushServer, type OfficialAccountDoor } from './oa.js';
import { oauthDeps } from './oauth.js';

export interface PcLoginDoor extends Door {
  readonly kind: 'pc';
  readonly via: OfficialAccountDoor;
}

/**
 * 电脑扫码登录 with our own QR code (a site with an official account but no website app): the PC
 * creates an attempt (pc/attempt) and watches it (pc/status, pc/events — limited per attempt), the
 * phone opens the QR's URL (pc/scan) through the official account's web authorization and confirms
 * (pc/confirm); the PC collects its session (pc/session). Without the account's app: pc_login_not_configured.
 */
export function pcLogin(options: { via: OfficialAccountDoor }): PcLoginDoor {
  const { via } = options;
  return {
    kind: 'pc',
    name: 'pc',
    app: via.app,
    via,
    allowed: {
      '/attempt': 'POST',
      '/follow-qr': 'POST',
      '/status': 'GET',
      '/events': 'GET',
      '/session': 'POST',
      '/scan': 'GET',
      '/callback': 'GET',
      '/confirm': 'GET, POST',
    },
    // a PC's own status / events / collect with its attempt cookie: per attempt, not per address
    limits: { '/status': 'attempt', '/events': 'attempt', '/session': 'attempt', '/*': 'address' },
    attemptOf: pcAttemptIdOf,
    logsFailures: true,
    routes: (ctx) =>
      new Hono().use(ctx.limitBody).route(
        '/',
        pcRoutes({
          attempt: ctx.attempt,
          notifier: ctx.notifier,
          // 关注公众号登录 (form: 'follow'): the attempt's parametric QR, when a followToLogin door and the server URL exist
          followQrs: pushServer(via) ? (followOf(ctx, via)?.qrs ?? null) : null,
          followQrLimit: ctx.followQrLimit,
          oauth: oauthDeps(ctx, via.app),
          urls: ctx.urls,
          production: ctx.production,
          appName: ctx.appName,
          streamMs: ctx.pc.streamMs,
          longPollMs: ctx.pc.longPollMs,
          clientAddress: ctx.pc.clientAddress,
        }),
      ),
    publicInfo: () => (via.app ? { name: 'pc', kind: 'pc', via: via.name } : null),
    check: () => ({ problems: [], notes: [] }),
  };
}
