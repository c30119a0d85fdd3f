/**
 * What follow-to-login needs from the PC login attempt (issue 13's attempt module): the event
 * handler never logs anyone in, it only tells the attempt who scanned and sends that person the
 * attempt's phone confirmation link. Only 确认 there — opened by the SAME person, checked by the
 * official account's silent web authorization (followerKey) — completes the attempt, and the PC
 * page learns it through the attempt's notifier.
 *
 * The adapter over the attempt module (flows/attempt: markAttemptScanned, the notifier, the phone's
 * /api/auth/pc/scan?a=<id>) is wired in api/_lib/main.ts (`followAttemptPort`): flow folders do not
 * import each other. See docs/API.md, "Follow-to-login".
 */
export interface FollowerIdentity {
  /** the official account's AppID */
  appid: string;
  /** the person's openid under that account (unionid is looked up later: cgi-bin/user/info) */
  openid: string;
  /** subscribe (true) or SCAN (false) */
  newFollower: boolean;
}

/**
 * scanned — recorded (again, for the same person: idempotent);
 * taken   — another person scanned this attempt first (a relayed QR): nothing changes;
 * unknown — no such live attempt (expired, finished, never existed).
 */
export type ScanResult = 'scanned' | 'taken' | 'unknown';

export interface AttemptPort {
  markScanned(attemptId: string, identity: FollowerIdentity): Promise<ScanResult>;
  /**
   * absolute URL of the attempt's phone confirmation link; `requestOrigin` is the origin the push
   * reached (used when no PUBLIC_BASE_URL is set: in development the link points at this API)
   */
  confirmUrl(attemptId: string, requestOrigin: string): string;
}

/**
 * Who scanned, as the attempt records it (hashed there) and as the confirmation link's web
 * authorization must match it: the official account's AppID and the person's openid under it.
 */
export const followerKey = (appid: string, openid: string): string => `${appid}:${openid}`;

/**
 * Scene strings of follow QR codes: `la_` + the id of one browser's follow QR (22 URL-safe
 * characters; the pattern leaves room up to QR_STR_SCENE's 64 characters, §7). One temporary QR
 * serves a browser's successive attempts while it lives (flows/follow `followQrForBrowser`): the
 * scene names the QR, its record names the browser's current attempt.
 */
export const ATTEMPT_SCENE = /^la_[A-Za-z0-9_-]{22,60}$/;
export const sceneOfQr = (qrId: string): string => `la_${qrId}`;
export const qrIdOfScene = (scene: string): string | null => (ATTEMPT_SCENE.test(scene) ? scene.slice(3) : null);
