import { randomBytes } from 'node:crypto';
import { matchesSha256, sha256Hex } from '../../crypto/tokens.js';
import { defineRecord, type Zod } from '../../store/records.js';
import { type Storage, type UserRecord } from '../../store/types.js';
import type { Logger } from '../../log.js';
import { resolveAccount } from '../../users/accounts.js';
import type { UserEvents } from '../../users/hooks.js';
import { dedupeKey, type PushMessage } from '../../wechat/push/events.js';
import type { FollowerInfo } from '../../wechat/oa/user_info.js';
import type { TemporaryQrCode } from '../../wechat/oa/qrcode_create.js';
import { ATTEMPT_SCENE, qrIdOfScene, sceneOfQr, type AttemptPort } from './attempt-port.js';
import { WechatApiError, WechatUnavailableError } from '../../wechat/transport.js';

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
/**
 * How long one browser's follow QR lives (expire_seconds of qrcode/create): it serves that
 * browser's successive attempts (each 3 minutes) for half an hour, so a PC page left open spends
 * about two qrcode/create calls an hour instead of twenty.
 */
export const FOLLOW_QR_SECONDS = 30 * 60;
/** a retry that arrives while the first delivery is still being handled waits this long for its answer */
export const RETRY_WAIT_MS = 4000;

export interface FollowEventDeps {
  appid: string;
  store: Pick<Storage, 'records'>;
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
 * `oa-push:<appid>:<dedupe key>`: the first delivery of a push, then its answer. Expiry judged by
 * store/records.ts only.
 */
const PushDelivery = (z: Zod) => z.object({ handling: z.boolean().optional(), failed: z.boolean().optional(), reply: z.string().nullable().optional() });
const pushDeliveries = defineRecord({ prefix: 'oa-push', schema: PushDelivery, ttlMs: PUSH_DEDUPE_TTL_MS });
const pushKey = (appid: string, key: string) => `${appid}:${key}`;

/**
 * One verified, decrypted push → the reply. The first delivery of a message (same FromUserName +
 * CreateTime, or MsgId — an atomic insert) records the scan and keeps its answer; a retry or replay
 * changes nothing and gets exactly that first answer (WeChat retries only when our first answer
 * did not reach it in 5 s — a retry that arrives while the first is still being handled waits for
 * it). `requestOrigin` is the origin the push reached (the confirmation link's host in development).
 */
export async function handlePush(deps: FollowEventDeps, message: PushMessage, requestOrigin: string): Promise<PushOutcome> {
  if (message.kind !== 'qr_scan' || !ATTEMPT_SCENE.test(message.scene)) return { reply: null, identifyAfterReply: null };
  const key = pushKey(deps.appid, dedupeKey(message));
  const ttl = { ttlMs: PUSH_DEDUPE_TTL_MS };
  let handling = await pushDeliveries.create(deps, key, { handling: true }, ttl);
  if (!handling) {
    // a delivery whose handling failed (its answer was an error) is handled again by the retry
    const prior = await pushDeliveries.read(deps, key);
    handling = prior?.value.failed === true ? await pushDeliveries.update(deps, prior, { handling: true }, ttl) : null;
    if (!handling) {
      deps.logger.log('info', 'oa.push.duplicate', { pushEvent: message.newFollower ? 'subscribe' : 'SCAN' });
      return { reply: await firstAnswer(deps, key), identifyAfterReply: null };
    }
  }
  let outcome: PushOutcome;
  try {
    outcome = await scanOutcome(deps, message, requestOrigin);
  } catch (error) {
    await pushDeliveries.update(deps, handling, { failed: true }, ttl).catch(() => null);
    throw error;
  }
  await pushDeliveries.update(deps, handling, { reply: outcome.reply }, ttl);
  return outcome;
}

async function scanOutcome(deps: FollowEventDeps, message: PushMessage & { kind: 'qr_scan' }, requestOrigin: string): Promise<PushOutcome> {
  const qrId = qrIdOfScene(message.scene)!;
  const attemptId = (await followQrRecords.read(deps, qrId))?.value.attemptId;
  const result = typeof attemptId === 'string' ? await deps.port.markScanned(attemptId, { appid: deps.appid, openid: message.fromUser, newFollower: message.newFollower }) : 'unknown';
  deps.logger.log('info', 'oa.follow.scanned', { result, newFollower: message.newFollower });
  if (result === 'scanned') return { reply: REPLY.confirm(deps.port.confirmUrl(attemptId as string, requestOrigin)), identifyAfterReply: message.fromUser };
  return { reply: result === 'taken' ? REPLY.taken : REPLY.expired, identifyAfterReply: null };
}

/** The answer the first delivery gave (waiting briefly while it is still being handled); `success` if none came. */
async function firstAnswer(deps: FollowEventDeps, key: string): Promise<string | null> {
  const started = Date.now();
  for (;;) {
    const value = (await pushDeliveries.read(deps, key))?.value;
    if (value && value.reply !== undefined) return value.reply;
    if (!value || value.failed === true || Date.now() - started >= RETRY_WAIT_MS) return null;
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface FollowQrDeps {
  store: Pick<Storage, 'records'>;
  logger: Logger;
  createQrCode(scene: string, expireSeconds: number): Promise<TemporaryQrCode>;
  showQrCodeUrl(ticket: string): string;
  clock?: () => Date;
}

export interface FollowQr {
  imageUrl: string;
  /** what the QR image encodes (http://weixin.qq.com/q/…) */
  content: string;
  expiresAt: Date;
}

/**
 * Why a browser gets our own QR instead of the official account's (any qrcode/create failure):
 * `48001` — the account may not create parametric QR codes (only a verified service account,
 * 认证服务号, may); `45009` — the daily quota is spent; `-1` / `timeout` / … — WeChat is busy.
 */
export type FollowQrUnavailable = { unavailable: string };

/** `follow-qr:<qrId>`: lives as long as the QR (its expiry, judged by store/records.ts only). */
const FollowQrValue = (z: Zod) => z.object({ keyHash: z.string(), attemptId: z.string(), imageUrl: z.string(), content: z.string() });
const followQrRecords = defineRecord({ prefix: 'follow-qr', schema: FollowQrValue, ttlMs: FOLLOW_QR_SECONDS * 1000 });

/**
 * The follow QR of one browser, made only when its PC page shows the card, reused while it lives.
 * The browser holds `<qrId>.<secret>` (an HttpOnly cookie); the record `follow-qr:<qrId>` holds
 * the ticket and the browser's CURRENT attempt, so a scan always lands on the attempt on screen.
 * A failure of qrcode/create is logged once per reason per instance (not per request) and
 * answered with `{ unavailable }` — the caller shows our own QR. After 48001 (the account cannot
 * make these codes) WeChat is not asked again for 10 minutes.
 */
export function followQrs(deps: FollowQrDeps) {
  const noted = new Set<string>();
  let unsupportedUntil = 0;
  const now = () => deps.clock?.() ?? new Date();
  const note = (reason: string, error?: unknown) => {
    if (noted.has(reason)) return;
    noted.add(reason);
    const hint =
      reason === '48001'
        ? 'the official account cannot create parametric QR codes (only a verified service account, 认证服务号, can): follow-to-login shows our own QR (npm run doctor)'
        : reason === '45009'
          ? 'qrcode/create daily quota reached: follow-to-login shows our own QR until it resets'
          : 'qrcode/create failed: follow-to-login shows our own QR meanwhile';
    deps.logger.log('warn', 'oa.follow.qr_unavailable', { reason, message: hint, ...(error ? { error } : {}) });
  };

  return {
    /**
     * `browserKey`: the browser's follow cookie (or undefined); `beforeCreate` runs before a new
     * QR is made (the per-address limit: it may throw). Returns the QR and, when a new one was
     * made, the browser's new key.
     */
    async forBrowser(input: { browserKey: string | undefined; attemptId: string; attemptExpiresAt: Date; beforeCreate?: () => void }): Promise<{ qr: FollowQr; browserKey: string | null } | FollowQrUnavailable> {
      const at = now();
      const [qrId = '', secret = ''] = (input.browserKey ?? '').split('.');
      if (/^[A-Za-z0-9_-]{22}$/.test(qrId) && /^[A-Za-z0-9_-]{32}$/.test(secret)) {
        const record = await followQrRecords.read(deps, qrId);
        // reuse only a QR that outlives the attempt it now stands for
        if (record && matchesSha256(secret, record.value.keyHash) && record.expiresAt.getTime() > input.attemptExpiresAt.getTime()) {
          if (await followQrRecords.update(deps, record, { ...record.value, attemptId: input.attemptId })) {
            return { qr: { imageUrl: record.value.imageUrl, content: record.value.content, expiresAt: record.expiresAt }, browserKey: null };
          }
        }
      }
      if (unsupportedUntil > at.getTime()) return { unavailable: '48001' };
      input.beforeCreate?.();
      const newId = randomBytes(16).toString('base64url');
      const newSecret = randomBytes(24).toString('base64url');
      let created: TemporaryQrCode;
      try {
        created = await deps.createQrCode(sceneOfQr(newId), FOLLOW_QR_SECONDS);
      } catch (error) {
        const reason = error instanceof WechatApiError ? String(error.errcode) : error instanceof WechatUnavailableError ? error.reason : 'error';
        if (reason === '48001') unsupportedUntil = at.getTime() + 10 * 60 * 1000;
        note(reason, error instanceof WechatApiError || error instanceof WechatUnavailableError ? undefined : error);
        return { unavailable: reason };
      }
      const expiresAt = new Date(at.getTime() + created.expireSeconds * 1000);
      const value = { keyHash: sha256Hex(newSecret), attemptId: input.attemptId, imageUrl: deps.showQrCodeUrl(created.ticket), content: created.url };
      await followQrRecords.create(deps, newId, value, { expiresAt });
      deps.logger.log('info', 'oa.follow.qr_created', { expireSeconds: created.expireSeconds });
      return { qr: { imageUrl: value.imageUrl, content: value.content, expiresAt }, browserKey: `${newId}.${newSecret}` };
    },
  };
}
export type FollowQrs = ReturnType<typeof followQrs>;

export interface IdentifyDeps {
  appid: string;
  store: Pick<Storage, 'records' | 'accounts' | 'sessions'>;
  getFollowerInfo(openid: string): Promise<FollowerInfo>;
  clock?: () => Date;
  /** the host's user hooks (users/hooks.ts): userCreated / usersMerged after the account is stored */
  userEvents?: UserEvents | undefined;
}

/**
 * The account of the person who scanned (in the background, after the reply):
 * cgi-bin/user/info gives the unionid, so someone known from the mini-program or the website is the
 * same account; a person never seen gets a new account with an empty profile.
 */
export async function identifyFollower(deps: IdentifyDeps, openid: string): Promise<{ user: UserRecord; isNewUser: boolean }> {
  const info = await deps.getFollowerInfo(openid);
  return resolveAccount(deps.store, { appid: deps.appid, openid, unionid: info.openid === openid ? info.unionid : null }, { nickname: null, avatarUrl: null }, deps.clock?.() ?? new Date(), deps.userEvents);
}
