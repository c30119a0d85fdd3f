import { Hono, type Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import { OA_SCOPE_USERINFO } from '../../../../../shared/oauth.js';
import { OA_DOOR } from '../../flows/oa/door.js';
import { AppError } from '../../errors.js';
import { failureOf, logFailure } from '../failure.js';
import { lazySchema } from '../json.js';
import { toLoginResponse } from '../../users/profile.js';
import { completeOAuthCallback, ConsentRequiredError, startOAuthLogin, STATE_TTL_MS, takeOAuthIdentity, type OAuthDoor, type OAuthLoginDeps } from '../../flows/oauth/login.js';
import { ATTEMPT_ID_PATTERN, collectAttempt, confirmationPage, createAttempt, decideAttempt, isAttemptScanner, pcStatus, readAttempt, scanAttempt, type AttemptDeps, type AttemptView } from '../../flows/attempt/attempt.js';
import type { AttemptNotifier } from '../../flows/attempt/notify.js';
import { confirmPageHtml, consentPageHtml, PHONE_PAGE_CSP, resultPageHtml } from '../../flows/attempt/pages.js';
import { followerKey } from '../../flows/follow/attempt-port.js';
import type { FollowQrs } from '../../flows/follow/login.js';
import { locate } from '../../flows/attempt/location.js';
import { clientAddress, type ClientAddressSettings } from '../client-address.js';
import type { Urls } from '../urls.js';
import { cookieJar, readCookie } from '../cookies.js';

/**
 * 电脑扫码登录 with our own QR code (for a site with an official account but no website app):
 *
 *   PC     POST /api/auth/pc/attempt   → { qr, scanUrl, expiresAt, status, match, form } + HttpOnly cookie wx_pc_attempt
 *                                        ({form:'follow'} + server URL configured: { form:'follow' } without a QR)
 *          POST /api/auth/pc/follow-qr → when the page shows the card: the official account's parametric
 *                                        QR (one per browser while it lives, cookie wx_pc_follow —
 *                                        关注公众号登录, docs/API.md), or our own QR when WeChat refuses
 *          GET  /api/auth/pc/events    → Server-Sent Events (status), one stream ≤ streamMs, `retry:`
 *          GET  /api/auth/pc/status    → { status, version } (?version=N&wait=1: long-poll until it changes)
 *          POST /api/auth/pc/session   → the session, once, after 确认 on the phone
 *   phone  GET  /api/auth/pc/scan?a=ID  (the QR code's URL) → official-account authorization (snsapi_base;
 *                                        an unknown person after a tap, snsapi_userinfo)
 *          GET  /api/auth/pc/callback  → the attempt is marked scanned → /confirm (a follow attempt:
 *                                        only for the person who scanned its QR, else pc_login_not_scanner)
 *          GET  /api/auth/pc/confirm   → 确认在电脑上登录？ (CSP frame-ancestors 'none'): where the PC is (region
 *                                        from its address, masked address; a warning when the phone is
 *                                        elsewhere) and three two-digit choices, one of them the PC's `match`
 *          POST /api/auth/pc/confirm   → 确认 (pick=the digits) / 取消 with the page's one-time nonce; a wrong pick cancels
 */
export const PC_SCAN_DOOR: OAuthDoor = {
  // the official account's web authorization (scopes, consent, snapshot users), under the PC door's names
  ...OA_DOOR,
  name: 'pc',
  via: 'pc-qr',
  errors: { notConfigured: 'pc_login_not_configured', stateInvalid: 'pc_login_invalid', stateUsed: 'pc_login_used', denied: 'oa_login_denied' },
};

/** The PC door's routes, relative to the base path. */
export const PC_PATH = '/pc';
export const PC_ATTEMPT_COOKIE = 'wx_pc_attempt';
export const PC_STATE_COOKIE = 'wx_pc_state';
export const PC_CONFIRM_COOKIE = 'wx_pc_confirm';
export const PC_FOLLOW_COOKIE = 'wx_pc_follow';
/** without a deployment's address settings: the TCP peer, canonical (client-address.ts) */
const SOCKET_ONLY: ClientAddressSettings = { source: 'socket', hops: 1, trustedProxies: [] };

export interface PcRouteDeps {
  attempt: AttemptDeps;
  notifier: AttemptNotifier;
  /** the official account's OAuth deps (appid null: the phone side answers pc_login_not_configured) */
  oauth: Omit<OAuthLoginDeps, 'door'>;
  production: boolean;
  /** every URL built (scan URL, redirect_uri, the phone pages' links, cookie path): base path and PUBLIC_BASE_URL */
  urls: Urls;
  /** the name the phone's page shows (APP_NAME) */
  appName: string;
  /** one SSE stream's length (≤ 25 s; inside the function's maxDuration) */
  streamMs: number;
  /** one long-poll's longest wait (inside the request deadline) */
  longPollMs: number;
  /**
   * 关注公众号登录 (form 'follow'): the browsers' temporary parametric QR codes (flows/follow
   * followQrs); null/absent when the official account's server URL or access_token is not
   * configured — then the attempt gets our own QR code.
   */
  followQrs?: FollowQrs | null;
  /** the follow QR's own per-address limit, asked before a new QR is made (http/app.ts); throws too_many_requests */
  followQrLimit?: (c: Context) => void;
  /**
   * The client's network address, as the rate limits derive it (http/client-address.ts clientAddress with
   * the deployment's trusted source): the PC's is recorded with its attempt, the phone's is read on
   * the confirmation page; both are shown there as a region. Absent: the TCP peer.
   */
  clientAddress?: (c: Context) => string | null;
}


function noStore(c: Context) {
  c.header('cache-control', 'no-store');
  c.header('referrer-policy', 'no-referrer');
}

function readPcCookie(c: Context): { id: string; pcKey: string } {
  const [id = '', pcKey = ''] = (readCookie(c, PC_ATTEMPT_COOKIE) ?? '').split('.');
  if (!ATTEMPT_ID_PATTERN.test(id)) throw new AppError('pc_login_invalid');
  return { id, pcKey };
}

/** The attempt id of this browser's attempt cookie when well-formed (not verified: the key is checked by the flow). */
export function pcAttemptIdOf(c: Context): string | null {
  const id = (readCookie(c, PC_ATTEMPT_COOKIE) ?? '').split('.')[0] ?? '';
  return ATTEMPT_ID_PATTERN.test(id) ? id : null;
}

// every status answer needs the PC's cookie: `match` (the digits to pick on the phone) reaches the PC only
const statusBody = (view: AttemptView) => ({ status: view.status, version: view.version, expiresAt: view.expiresAt.toISOString(), match: view.match });
const FINAL = new Set(['confirmed', 'cancelled', 'taken', 'expired']);

// 确认 is a tap on one of the three digit buttons (pick=NN; action=confirm may be sent too); 取消 is action=cancel
const DecideForm = lazySchema((z) =>
  z
    .object({ nonce: z.string().min(1).max(64), action: z.enum(['confirm', 'cancel']).optional(), pick: z.string().regex(/^\d{2}$/).optional() })
    .refine((form) => form.action === 'cancel' || form.pick !== undefined, { message: 'pick required to confirm' }),
);

export function pcRoutes(deps: PcRouteDeps) {
  const oauth: OAuthLoginDeps = { ...deps.oauth, door: PC_SCAN_DOOR };
  const urls = deps.urls;
  const pcPath = urls.path(PC_PATH);
  const cookies = cookieJar({ path: pcPath, production: deps.production });
  const addressOf = deps.clientAddress ?? ((c: Context) => clientAddress(c, SOCKET_ONLY));

  /** A QR code image (data URL) of `content`. */
  const qrDataUrl = async (content: string) => {
    const { default: QRCode } = await import('qrcode'); // loaded on the first PC attempt only
    return QRCode.toDataURL(content, { margin: 1, width: 240, errorCorrectionLevel: 'M' });
  };
  /** Our own QR for an attempt: the phone's entry /scan?a=<id>. */
  const ownQr = async (c: Context, id: string) => {
    const scanUrl = urls.api(c, `${PC_PATH}/scan?a=${id}`);
    return { qr: await qrDataUrl(scanUrl), scanUrl };
  };

  /** The phone's pages: HTML, never framed, never cached. */
  const phone = (c: Context, html: string, status = 200) => {
    noStore(c);
    c.header('content-security-policy', PHONE_PAGE_CSP);
    c.header('x-frame-options', 'DENY');
    return c.html(html, status as 200);
  };
  const phoneError = (c: Context, error: unknown, event: string) => {
    const failure = failureOf(error);
    logFailure(deps.attempt.logger, event, c, failure, error);
    return phone(c, resultPageHtml('error', failure.message), failure.status);
  };

  // cookie lifetimes are counted on the clock the attempts' deadlines are set on (never the machine's)
  const nowMs = () => (deps.attempt.clock?.() ?? new Date()).getTime();
  return (
    new Hono()
      // ---- PC ----
      .post('/attempt', async (c) => {
        const wanted = c.req.query('form') ?? (await c.req.json().catch(() => null) as { form?: unknown } | null)?.form;
        const { id, pcKey, expiresAt, view } = await createAttempt(deps.attempt, { userAgent: c.req.header('user-agent'), address: addressOf(c) });
        const seconds = Math.max(60, Math.ceil((expiresAt.getTime() - nowMs()) / 1000));
        cookies.set(c, PC_ATTEMPT_COOKIE, `${id}.${pcKey}`, seconds + 60);
        // follow: no WeChat call here — the page asks POST /follow-qr when it shows the card
        if (wanted === 'follow' && deps.followQrs) return c.json({ ...statusBody(view), form: 'follow' as const }, 200, { 'cache-control': 'no-store' });
        return c.json({ ...statusBody(view), ...(await ownQr(c, id)), form: 'own-qr' as const }, 200, { 'cache-control': 'no-store' });
      })
      .post('/follow-qr', async (c) => {
        // 关注公众号登录: the official account's parametric QR for this browser's current attempt
        const { id, pcKey } = readPcCookie(c);
        const view = await pcStatus(deps.attempt, id, pcKey);
        if (view.status === 'expired') throw new AppError('pc_login_expired');
        if (view.status !== 'waiting') throw new AppError('pc_login_used');
        const got = deps.followQrs
          ? await deps.followQrs.forBrowser({ browserKey: cookies.get(c, PC_FOLLOW_COOKIE), attemptId: id, attemptExpiresAt: view.expiresAt, beforeCreate: () => deps.followQrLimit?.(c) })
          : { unavailable: 'not_configured' };
        // WeChat refused (48001 on an unverified account, 45009 quota, -1, timeout): our own QR works as well
        if ('unavailable' in got) return c.json({ ...(await ownQr(c, id)), form: 'own-qr' as const }, 200, { 'cache-control': 'no-store' });
        if (got.browserKey) {
          const maxAge = Math.max(0, Math.floor((got.qr.expiresAt.getTime() - nowMs()) / 1000));
          cookies.set(c, PC_FOLLOW_COOKIE, got.browserKey, maxAge);
        }
        const qr = await qrDataUrl(got.qr.content);
        return c.json({ qr, scanUrl: got.qr.content, qrImageUrl: got.qr.imageUrl, form: 'follow' as const }, 200, { 'cache-control': 'no-store' });
      })
      .get('/status', async (c) => {
        const { id, pcKey } = readPcCookie(c);
        let view = await pcStatus(deps.attempt, id, pcKey);
        const known = Number(c.req.query('version'));
        if (c.req.query('wait') === '1' && Number.isInteger(known) && known === view.version && !FINAL.has(view.status)) {
          const changed = await deps.notifier.wait(id, known, deps.longPollMs, c.req.raw.signal);
          if (changed && changed !== 'timeout') view = changed;
          else if (changed === null) throw new AppError('pc_login_expired');
        }
        return c.json(statusBody(view), 200, { 'cache-control': 'no-store' });
      })
      .get('/events', async (c) => {
        const { id, pcKey } = readPcCookie(c);
        let view = await pcStatus(deps.attempt, id, pcKey);
        c.header('cache-control', 'no-store');
        c.header('x-accel-buffering', 'no');
        return streamSSE(c, async (stream) => {
          const abort = new AbortController();
          stream.onAbort(() => abort.abort());
          const end = Date.now() + deps.streamMs;
          // `retry:` — how soon EventSource reconnects when this stream ends (the function's time limit)
          await stream.writeSSE({ event: 'status', data: JSON.stringify(statusBody(view)), id: String(view.version), retry: 1000 });
          while (!FINAL.has(view.status) && Date.now() < end && !abort.signal.aborted) {
            const changed = await deps.notifier.wait(id, view.version, end - Date.now(), abort.signal);
            if (changed === 'timeout') break;
            view = changed ?? { ...view, status: 'expired' };
            await stream.writeSSE({ event: 'status', data: JSON.stringify(statusBody(view)), id: String(view.version) });
          }
          if (FINAL.has(view.status)) await stream.writeSSE({ event: 'end', data: '{}' });
        });
      })
      .post('/session', async (c) => {
        const { id, pcKey } = readPcCookie(c);
        const result = await collectAttempt(deps.attempt, id, pcKey);
        cookies.clear(c, PC_ATTEMPT_COOKIE);
        return c.json(toLoginResponse(result), 200, { 'cache-control': 'no-store' });
      })
      // ---- phone ----
      .get('/scan', async (c) => {
        try {
          const id = c.req.query('a') ?? '';
          const view = await readAttempt(deps.attempt, id);
          if (!view || view.status === 'expired') throw new AppError('pc_login_expired');
          if (view.status !== 'waiting' && view.status !== 'scanned') throw new AppError(view.status === 'cancelled' ? 'pc_login_cancelled' : 'pc_login_used');
          const { state, authorizeUrl } = await startOAuthLogin(oauth, {
            redirectUri: urls.api(c, `${PC_PATH}/callback`),
            // the attempt rides in the state's own record (never in `next`, which is a page to go to)
            attemptId: id,
            scope: c.req.query('scope'),
          });
          noStore(c);
          cookies.set(c, PC_STATE_COOKIE, state, STATE_TTL_MS / 1000);
          return c.redirect(authorizeUrl, 302);
        } catch (error) {
          return phoneError(c, error, 'auth.pc.scan_failed');
        }
      })
      .get('/callback', async (c) => {
        try {
          const cookieState = cookies.get(c, PC_STATE_COOKIE);
          let completed: { state: string; attemptId: string | null };
          try {
            completed = await completeOAuthCallback(oauth, {
              code: c.req.query('code'),
              state: c.req.query('state'),
              cookieState,
              // a follow attempt's link belongs to the person who scanned its QR: a forwarded link
              // opened by anyone else is refused here, before any account or the attempt changes
              checkPerson: async (who, { attemptId }) => {
                if (attemptId && !(await isAttemptScanner(deps.attempt, attemptId, followerKey(who.appid, who.openid)))) {
                  deps.attempt.logger.log('warn', 'auth.pc.not_scanner', { errorCode: 'pc_login_not_scanner' });
                  throw new AppError('pc_login_not_scanner');
                }
              },
            });
          } catch (error) {
            // snsapi_base did not find the person: one tap, then snsapi_userinfo (reusing the OA door's rule)
            const attemptId = error instanceof ConsentRequiredError ? error.attemptId : null;
            if (attemptId) return phone(c, consentPageHtml(`${pcPath}/scan?a=${attemptId}&scope=${OA_SCOPE_USERINFO}`));
            throw error;
          }
          const attemptId = completed.attemptId;
          if (!attemptId || !ATTEMPT_ID_PATTERN.test(attemptId)) throw new AppError('pc_login_invalid');
          const { user } = await takeOAuthIdentity(oauth, { state: completed.state, cookieState });
          cookies.clear(c, PC_STATE_COOKIE);
          const { confirmKey, view } = await scanAttempt(deps.attempt, attemptId, { userId: user.id, source: 'oa-web' });
          deps.notifier.changed(view);
          cookies.set(c, PC_CONFIRM_COOKIE, confirmKey, Math.ceil((view.expiresAt.getTime() - nowMs()) / 1000));
          noStore(c);
          return c.redirect(`${pcPath}/confirm`, 302);
        } catch (error) {
          return phoneError(c, error, 'auth.pc.callback_failed');
        }
      })
      .get('/confirm', async (c) => {
        try {
          // The confirm key lives only in the cookie set by /callback (after the web authorization):
          // no query parameter can plant one (login CSRF).
          const page = await confirmationPage(deps.attempt, cookies.get(c, PC_CONFIRM_COOKIE));
          // the IP-region database is loaded by locate, on the first confirmation page, and nowhere else
          const [pcLocation, phoneLocation] = await Promise.all([locate(page.pcAddress), locate(addressOf(c))]);
          return phone(c, confirmPageHtml({ ...page, pcLocation, phoneLocation }, deps.appName, `${pcPath}/confirm`));
        } catch (error) {
          return phoneError(c, error, 'auth.pc.confirm_failed');
        }
      })
      .post('/confirm', async (c) => {
        try {
          const type = c.req.header('content-type') ?? '';
          if (!/^application\/x-www-form-urlencoded\b/i.test(type)) throw new AppError('unsupported_media_type', '请求体必须是表单 (application/x-www-form-urlencoded)');
          const form = (await DecideForm.get()).safeParse(await c.req.parseBody());
          if (!form.success) throw new AppError('invalid_request', '请选择电脑上显示的数字，或点「取消」');
          const action = form.data.action === 'cancel' ? 'cancel' : 'confirm';
          const { wrongPick, ...view } = await decideAttempt(deps.attempt, { confirmKey: cookies.get(c, PC_CONFIRM_COOKIE), nonce: form.data.nonce, action, pick: form.data.pick });
          deps.notifier.changed(view);
          cookies.clear(c, PC_CONFIRM_COOKIE);
          if (wrongPick) return phone(c, resultPageHtml('cancelled', '数字与电脑上显示的不一致，已取消此次登录，电脑上不会登录。如果你没有在电脑前操作，请不要按别人的要求扫码或确认。'));
          return action === 'confirm'
            ? phone(c, resultPageHtml('confirmed', '已确认，请回到电脑上继续'))
            : phone(c, resultPageHtml('cancelled', '已取消此次登录，电脑上不会登录'));
        } catch (error) {
          return phoneError(c, error, 'auth.pc.decide_failed');
        }
      })
  );
}
