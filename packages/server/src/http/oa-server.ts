import { randomBytes } from 'node:crypto';
import { Hono, type Context } from 'hono';
import { AppError } from '../errors.js';
import type { Logger } from '../log.js';
import { handlePush, type FollowEventDeps } from '../flows/follow/login.js';
import { parsePushMessage, PushMessageError } from '../wechat/push/events.js';
import { MsgCrypt, MsgCryptError } from '../wechat/push/msg-crypt.js';
import { signatureMatches } from '../wechat/push/signature.js';
import { encryptedReplyXml, extractEncrypt, MAX_PUSH_BYTES, parsePushFields, PushXmlError, textReplyXml } from '../wechat/push/xml.js';
import { PushGate, readPushBody, type PushLimits } from './push-limits.js';
import { failureOf, logFailure } from './failure.js';

/**
 * The official account's server URL (服务器配置, docs/WECHAT.md, facts §8–§9), at /api/auth/oa/push:
 *   GET  verification: signature = sha1(sort(Token, timestamp, nonce)) → echostr as text
 *   POST messages in the configured mode — plain (signature) or, with an EncodingAESKey,
 *        compatible / safe: encrypted only (encrypt_type=aes, msg_signature over <Encrypt>,
 *        AES-256-CBC, appid checked; the previous EncodingAESKey still opens messages during a
 *        rotation). Compatible mode's plaintext copy is ignored: the message is the decrypted one.
 *        The reply is encrypted when the message was, under the key that opened it.
 * The signature is verified before anything is parsed: plain mode's from the query alone; an
 * encrypted push's after <Encrypt> is picked out of the body by one linear pass (no parser). Every
 * check before the parser is linear in the body's size; the endpoint's limits (push-limits.ts) are
 * far above WeChat's real traffic (docs/SECURITY.md "Push endpoint cost").
 * Before answering, only verify → decrypt → parse → deduplicate + record (flows/follow).
 */
export type PushMode = 'plain' | 'compatible' | 'safe';
/** WeChat's timestamp is its clock when sending; retries come within ~15 s. Older or future-dated by more → stale. */
export const PUSH_MAX_SKEW_S = 300;

export interface OaServerDeps extends Omit<FollowEventDeps, 'appid'> {
  /** null: the server URL is not configured (WECHAT_OA_TOKEN unset) → 503 oa_push_not_configured */
  server: { appid: string; token: string; encodingAesKeys: string[]; mode: PushMode } | null;
  logger: Logger;
  /**
   * Identifies a person who just scanned (flows/follow identifyFollower: cgi-bin/user/info → unionid
   * → account), run after the reply; absent: nobody is identified before the confirmation link.
   */
  identify?: (openid: string) => Promise<unknown>;
  /** in-memory limits of the endpoint (push-limits.ts PUSH_LIMITS; tests lower them) */
  limits?: Partial<PushLimits>;
}

/**
 * Runs `task` after the current response: on Vercel the function is kept alive for it
 * (`waitUntil` from @vercel/functions); elsewhere (the Node server) it is fire-and-forget. It starts
 * on a later turn of the event loop, never before the handler has returned its answer; errors are
 * logged, never thrown. The handler awaits it (registration, not the task): @vercel/functions is
 * imported here, on first use — its root module loads all of the package (~13 ms), which every
 * cold start paid at import for this one official-account path (docs/BENCH.md "Cold first login").
 */
export async function afterReply(logger: Logger, event: string, task: () => Promise<unknown>): Promise<void> {
  // a failed import (a broken install) must not fail the reply: the task then runs unregistered
  const waitUntil = await import('@vercel/functions').then((m) => m.waitUntil, (error: unknown) => (logger.log('warn', event, { error }), null));
  const run = new Promise<void>((resolve) => setTimeout(resolve, 0))
    .then(task)
    .then(
      () => undefined,
      (error: unknown) => logger.log('warn', event, { error }),
    );
  waitUntil?.(run);
}

export function oaServerRoutes(deps: OaServerDeps) {
  const server = deps.server;
  const crypt = server && server.mode !== 'plain' ? new MsgCrypt({ token: server.token, appid: server.appid, encodingAesKeys: server.encodingAesKeys }) : null;
  const now = () => (deps.clock?.() ?? new Date()).getTime();
  // A refused push is logged at warn by the edge's failure policy (failure.ts), though the sender is
  // at fault: a forged or replayed push is worth seeing; onError then answers the envelope.
  const refuse = (c: Context, code: 'oa_push_signature_invalid' | 'oa_push_timestamp_stale' | 'oa_push_body_invalid' | 'too_many_requests', reason: string): never => {
    const error = new AppError(code);
    logFailure(deps.logger, 'oa.push.refused', c, failureOf(error), error, { reason }, 'warn');
    throw error;
  };
  const fresh = (c: Context, timestamp: string | undefined) => {
    if (!timestamp || !/^\d{1,12}$/.test(timestamp)) refuse(c, 'oa_push_timestamp_stale', 'timestamp missing');
    if (Math.abs(now() / 1000 - Number(timestamp)) > PUSH_MAX_SKEW_S) refuse(c, 'oa_push_timestamp_stale', 'timestamp outside the window');
  };
  const gate = new PushGate(deps.limits, PUSH_MAX_SKEW_S * 1000);
  const configured = () => {
    if (!server) throw new AppError('oa_push_not_configured');
    return server;
  };

  return new Hono()
    .get('/', (c) => {
      const { token } = configured();
      const { signature, timestamp, nonce, echostr } = c.req.query();
      if (!signatureMatches(signature, token, timestamp ?? '', nonce ?? '')) refuse(c, 'oa_push_signature_invalid', 'GET signature');
      fresh(c, timestamp);
      if (!echostr || echostr.length > 128) refuse(c, 'oa_push_body_invalid', 'echostr');
      return c.text(echostr!, 200, { 'cache-control': 'no-store' });
    })
    .post(
      '/',
      async (c, next) => {
        // Before anything is read: a slot among the pushes in flight (push-limits.ts).
        if (!gate.enter()) {
          c.header('retry-after', '1');
          refuse(c, 'too_many_requests', 'pushes in flight');
        }
        try {
          await next();
        } finally {
          gate.leave();
        }
      },
      async (c) => {
        const { token, mode } = configured();
        const q = c.req.query();
        const encrypted = q.encrypt_type === 'aes';
        // Cheap checks first: the query, the clock — no body, no store.
        if (encrypted) {
          if (!crypt) refuse(c, 'oa_push_signature_invalid', 'encrypted message in plain mode');
          if (!/^[0-9a-fA-F]{40}$/.test(q.msg_signature ?? '')) refuse(c, 'oa_push_signature_invalid', 'msg_signature missing');
        } else {
          // With an EncodingAESKey (compatible or safe mode) WeChat adds encrypt_type=aes and
          // msg_signature to every push (facts §9): a plaintext one is a forgery or a downgrade.
          if (mode !== 'plain') refuse(c, 'oa_push_signature_invalid', `plaintext message in ${mode} mode`);
          if (!signatureMatches(q.signature, token, q.timestamp ?? '', q.nonce ?? '')) refuse(c, 'oa_push_signature_invalid', 'signature');
        }
        fresh(c, q.timestamp);
        const text = await readPushBody(c, MAX_PUSH_BYTES, gate.limits.bodyDeadlineMs);
        if (text === 'too_large') refuse(c, 'oa_push_body_invalid', 'too large');
        if (text === 'late') refuse(c, 'oa_push_body_invalid', 'body not received in time');
        let keyIndex = 0;
        let fields: Record<string, string>;
        try {
          if (encrypted) {
            // The signature before any parsing: Encrypt is found by one linear pass (no parser), and
            // msg_signature covers exactly that value; the rest of the outer body (compatible mode's
            // plaintext copy) is never used.
            const encrypt = extractEncrypt(text!);
            if (!signatureMatches(q.msg_signature, token, q.timestamp!, q.nonce ?? '', encrypt)) refuse(c, 'oa_push_signature_invalid', 'msg_signature');
            if (!gate.use(q.msg_signature!, now())) refuse(c, 'oa_push_signature_invalid', 'signed query used too often');
            const opened = crypt!.decrypt(encrypt);
            keyIndex = opened.keyIndex;
            fields = await parsePushFields(opened.message);
          } else {
            if (!gate.use(q.signature!, now())) refuse(c, 'oa_push_signature_invalid', 'signed query used too often');
            fields = await parsePushFields(text!);
          }
        } catch (error) {
          if (error instanceof MsgCryptError || error instanceof PushXmlError) refuse(c, 'oa_push_body_invalid', error.message);
          throw error;
        }
        let message;
        try {
          message = parsePushMessage(fields);
        } catch (error) {
          if (error instanceof PushMessageError) refuse(c, 'oa_push_body_invalid', error.message);
          throw error;
        }
        const { reply, identifyAfterReply } = await handlePush({ ...deps, appid: configured().appid }, message, new URL(c.req.url).origin);
        const identify = deps.identify;
        if (identifyAfterReply && identify) await afterReply(deps.logger, 'oa.follow.identify_failed', () => identify(identifyAfterReply));
        if (reply === null) return c.text('success', 200, { 'cache-control': 'no-store' });
        const xml = textReplyXml(message.fromUser, message.toUser, Math.floor(now() / 1000), reply);
        if (!encrypted) return c.body(xml, 200, { 'content-type': 'application/xml; charset=utf-8', 'cache-control': 'no-store' });
        const sealed = crypt!.encryptReply(xml, keyIndex, String(Math.floor(now() / 1000)), String(randomBytes(4).readUInt32BE()));
        return c.body(encryptedReplyXml(sealed), 200, { 'content-type': 'application/xml; charset=utf-8', 'cache-control': 'no-store' });
      },
    );
}
