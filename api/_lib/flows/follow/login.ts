import { DuplicateKeyError, type Store, type UserRecord } from '../../store/types.js';
import type { Logger } from '../../log.js';
import { resolveAccount } from '../../users/accounts.js';
import { dedupeKey, type PushMessage } from '../../wechat/push/events.js';
import type { FollowerInfo } from '../../wechat/oa/user_info.js';
import type { TemporaryQrCode } from '../../wechat/oa/qrcode_create.js';
import { ATTEMPT_SCENE, type AttemptPort } from './attempt-port.js';

/**
 * Follow-to-login (关注公众号登录), the official account's side (docs/WECHAT.md, facts §7, §8):
 * the PC attempt shows a temporary QR_STR_SCENE code carrying its scene; scanning it makes WeChat
 * push `subscribe` (EventKey qrscene_<scene>, new follower) or `SCAN` (EventKey <scene>, already
 * following) to the server URL. Within WeChat's 5 seconds this flow only deduplicates, records the
 * scan on the attempt (openid only) and answers a text with the link to the attempt's phone
 * confirmation page. Nobody is logged in by a scan: only 确认 on that page completes the attempt.
 * The slow part — cgi-bin/user/info for the unionid and the account resolution — is
 * `identifyFollower`, run in the background AFTER the reply (http/oa-server.ts), so that the
 * confirmation link's web authorization finds the person silently (snsapi_base).
 */
export const PUSH_DEDUPE_TTL_MS = 10 * 60 * 1000;
export const FOLLOW_QR_SECONDS = 300;

export interface FollowEventDeps {
  appid: string;
  store: Pick<Store, 'claim'>;
  logger: Logger;
  port: AttemptPort;
  clock?: () => Date;
}

export const REPLY = {
  confirm: (url: string) => `你正在电脑上登录。请点击 <a href="${url}">确认登录</a>，若不是你本人操作请忽略。`,
  taken: '该二维码已被其他微信扫描。如需登录，请在电脑上刷新二维码后重新扫码。',
  expired: '二维码已过期，请在电脑上刷新二维码后重新扫码。',
} as const;

/** What to answer WeChat, and whom to identify once the answer is out (identifyFollower). */
export interface PushOutcome {
  /** the text to reply, or null for `success` */
  reply: string | null;
  /** openid of a person who just scanned an attempt: identify them AFTER the reply (cgi-bin/user/info) */
  identifyAfterReply: string | null;
}

/**
 * One verified, decrypted push → the reply. A retry or replay of a message already handled (same
 * FromUserName + CreateTime, or MsgId — an atomic insert) changes nothing; for a scan it answers the
 * same confirmation link again (WeChat retries only when our first answer did not reach it).
 */
export async function handlePush(deps: FollowEventDeps, message: PushMessage): Promise<PushOutcome> {
  if (message.kind !== 'qr_scan' || !ATTEMPT_SCENE.test(message.scene)) return { reply: null, identifyAfterReply: null };
  const now = deps.clock?.() ?? new Date();
  try {
    await deps.store.claim(`oa-push:${deps.appid}:${dedupeKey(message)}`, new Date(now.getTime() + PUSH_DEDUPE_TTL_MS), now);
  } catch (error) {
    if (!(error instanceof DuplicateKeyError)) throw error;
    deps.logger.log('info', 'oa.push.duplicate', { pushEvent: message.newFollower ? 'subscribe' : 'SCAN' });
    return { reply: REPLY.confirm(deps.port.confirmUrl(message.scene)), identifyAfterReply: null };
  }
  const result = await deps.port.markScanned(message.scene, { appid: deps.appid, openid: message.fromUser, newFollower: message.newFollower });
  deps.logger.log('info', 'oa.follow.scanned', { result, newFollower: message.newFollower });
  if (result === 'scanned') return { reply: REPLY.confirm(deps.port.confirmUrl(message.scene)), identifyAfterReply: message.fromUser };
  return { reply: result === 'taken' ? REPLY.taken : REPLY.expired, identifyAfterReply: null };
}

export interface FollowQrDeps {
  createQrCode(scene: string, expireSeconds: number): Promise<TemporaryQrCode>;
  showQrCodeUrl(ticket: string): string;
}

/** The attempt's temporary parametric QR: its image URL (showqrcode) and its content (to render locally). */
export async function createFollowQr(deps: FollowQrDeps, scene: string, expireSeconds = FOLLOW_QR_SECONDS) {
  if (!ATTEMPT_SCENE.test(scene)) throw new RangeError('not an attempt scene');
  const qr = await deps.createQrCode(scene, expireSeconds);
  return { imageUrl: deps.showQrCodeUrl(qr.ticket), content: qr.url, expiresIn: qr.expireSeconds };
}

export interface IdentifyDeps {
  appid: string;
  store: Store;
  getFollowerInfo(openid: string): Promise<FollowerInfo>;
  clock?: () => Date;
}

/**
 * The account of the person who scanned (in the background, after the reply):
 * cgi-bin/user/info gives the unionid, so someone known from the mini-program or the website is the
 * same account; a person never seen gets a new account with an empty profile.
 */
export async function identifyFollower(deps: IdentifyDeps, openid: string): Promise<{ user: UserRecord; isNewUser: boolean }> {
  const info = await deps.getFollowerInfo(openid);
  return resolveAccount(deps.store, { appid: deps.appid, openid, unionid: info.openid === openid ? info.unionid : null }, { nickname: null, avatarUrl: null }, deps.clock?.() ?? new Date());
}
