/**
 * What follow-to-login needs from the PC login attempt (issue 13's attempt module): the event
 * handler never logs anyone in, it only tells the attempt who scanned and sends that person the
 * attempt's phone confirmation page (确认在电脑上登录？). Only 确认 there completes the attempt,
 * and the PC page learns it through the attempt's notifier.
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
  markScanned(scene: string, identity: FollowerIdentity): Promise<ScanResult>;
  /** absolute URL of the attempt's phone confirmation page */
  confirmUrl(scene: string): string;
}

/**
 * Scene strings of login attempts: `la_` + the PC login attempt's id (22 URL-safe characters; the
 * pattern leaves room up to QR_STR_SCENE's 64 characters, §7). The id is public anyway (it is in the
 * own-QR form's code); the attempt's secrets are the PC's and the phone's cookies.
 */
export const ATTEMPT_SCENE = /^la_[A-Za-z0-9_-]{22,60}$/;
export const sceneOfAttempt = (attemptId: string): string => `la_${attemptId}`;
export const attemptIdOfScene = (scene: string): string | null => (ATTEMPT_SCENE.test(scene) ? scene.slice(3) : null);
