import type { FollowerInfo } from '../wechat/oa/user_info.js';
import { getFollowerInfo } from '../wechat/oa/user_info.js';
import { createTemporaryQrCode } from '../wechat/oa/qrcode_create.js';
import { showQrCodeUrl } from '../wechat/oa/showqrcode.js';
import { followQrs, identifyFollower, type FollowQrs } from '../flows/follow/login.js';
import type { Door, DoorContext } from './door.js';
import { pushServer, type OfficialAccountDoor } from './oa.js';

export interface FollowToLoginDoor extends Door {
  readonly kind: 'follow';
  readonly via: OfficialAccountDoor;
}

/**
 * 关注公众号登录: the PC shows the official account's parametric QR (POST pc/follow-qr); the
 * person's scan arrives on the account's server URL (oa/push), the reply's link confirms the PC's
 * attempt. It has no routes of its own: it gives the pc door its QRs and the oa door its scans.
 * Needs `officialAccount({ push })`.
 */
export function followToLogin(options: { via: OfficialAccountDoor }): FollowToLoginDoor {
  const { via } = options;
  return {
    kind: 'follow',
    name: 'follow',
    app: via.app,
    via,
    allowed: {},
    limits: {},
    logsFailures: false,
    routes: () => null,
    publicInfo: () => (pushServer(via) ? { name: 'follow', kind: 'follow', via: via.name } : null),
    check: () => ({
      problems: via.push ? [] : ['followToLogin needs the official account\'s server URL: officialAccount({ push: { token, ... } }) (WECHAT_OA_TOKEN)'],
      notes: [],
    }),
  };
}

export interface FollowCapability {
  qrs: FollowQrs;
  createQrCode(scene: string, expireSeconds: number): ReturnType<typeof createTemporaryQrCode>;
  showQrCodeUrl(ticket: string): string;
  getFollowerInfo(openid: string): Promise<FollowerInfo>;
  identify(openid: string): Promise<unknown>;
}

/**
 * The follow capability of an official account in this instance: present when a followToLogin door
 * lists it and the account is configured (its access_token); one per instance (its QR memory).
 */
export function followOf(ctx: DoorContext, oa: OfficialAccountDoor): FollowCapability | null {
  const door = ctx.doors.find((d): d is FollowToLoginDoor => d.kind === 'follow' && (d as FollowToLoginDoor).via === oa);
  const app = oa.app?.appid && oa.app.secret ? oa.app : null;
  if (!door || !app) return null;
  return ctx.once(door, 'capability', () => {
    const tokens = ctx.wechat.accessTokens(app);
    const createQrCode = (scene: string, seconds: number) => ctx.wechat.spend(app.appid, () => tokens.withToken((token) => createTemporaryQrCode(ctx.wechat.transport, token, scene, seconds)));
    const qrImageUrl = (ticket: string) => showQrCodeUrl(ticket, ctx.mpBaseUrl);
    const follower = (openid: string) => tokens.withToken((token) => getFollowerInfo(ctx.wechat.transport, token, openid));
    return {
      qrs: followQrs({ store: ctx.store, logger: ctx.logger, createQrCode, showQrCodeUrl: qrImageUrl, clock: ctx.clock }),
      createQrCode,
      showQrCodeUrl: qrImageUrl,
      getFollowerInfo: follower,
      identify: (openid: string) => identifyFollower({ appid: app.appid, store: ctx.store, getFollowerInfo: follower, clock: ctx.clock, userEvents: ctx.userEvents }, openid),
    };
  });
}
