import { randomBytes } from 'node:crypto';
import type { Store } from '../../store/types.js';

/**
 * What follow-to-login needs from the PC login attempt (issue 13's attempt module): the event
 * handler never logs anyone in, it only tells the attempt who scanned and sends that person the
 * attempt's phone confirmation page (确认在电脑上登录？). Only 确认 there completes the attempt,
 * and the PC page learns it through the attempt's notifier.
 *
 * `storeAttemptPort` below is a stand-in with the same contract, kept in this file so it can be
 * swapped for the real attempt module in one place (api/_lib/main.ts); see docs/API.md,
 * "Follow-to-login".
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

/** Scene strings of login attempts: unguessable, within QR_STR_SCENE's 64 characters (§7). */
export const ATTEMPT_SCENE = /^la_[A-Za-z0-9_-]{22,60}$/;
export function newAttemptScene(): string {
  return `la_${randomBytes(18).toString('base64url')}`;
}

/** Path of the phone confirmation page (issue 13 owns the page; the adapter only links to it). */
export const CONFIRM_PAGE = '/pages/login/confirm';

interface AttemptDoc {
  status: 'pending' | 'scanned';
  appid: string | null;
  openid: string | null;
  newFollower: boolean | null;
  expiresAt: string;
}

export interface StoreAttemptPort extends AttemptPort {
  /** stand-in for the PC side: a new attempt (pending) and its scene */
  create(ttlMs: number): Promise<string>;
  /** stand-in for the PC side / the confirmation page: what the attempt knows */
  read(scene: string): Promise<AttemptDoc | null>;
}

/** The stand-in adapter: attempts as temporary store records `login-attempt:<scene>` (expiresAt). */
export function storeAttemptPort(store: Pick<Store, 'getRecord' | 'compareAndSetRecord'>, publicOrigin: string, clock: () => Date = () => new Date()): StoreAttemptPort {
  const id = (scene: string) => `login-attempt:${scene}`;
  return {
    async create(ttlMs) {
      const scene = newAttemptScene();
      const expiresAt = new Date(clock().getTime() + ttlMs);
      const doc: AttemptDoc = { status: 'pending', appid: null, openid: null, newFollower: null, expiresAt: expiresAt.toISOString() };
      await store.compareAndSetRecord(id(scene), doc as unknown as Record<string, unknown>, null, expiresAt);
      return scene;
    },
    async read(scene) {
      if (!ATTEMPT_SCENE.test(scene)) return null;
      const rec = await store.getRecord(id(scene));
      return rec ? (rec.value as unknown as AttemptDoc) : null;
    },
    async markScanned(scene, identity) {
      if (!ATTEMPT_SCENE.test(scene)) return 'unknown';
      for (let i = 0; i < 3; i++) {
        const rec = await store.getRecord(id(scene));
        if (!rec) return 'unknown';
        const doc = rec.value as unknown as AttemptDoc;
        if (new Date(doc.expiresAt) <= clock()) return 'unknown';
        if (doc.status === 'scanned') return doc.appid === identity.appid && doc.openid === identity.openid ? 'scanned' : 'taken';
        const next: AttemptDoc = { ...doc, status: 'scanned', appid: identity.appid, openid: identity.openid, newFollower: identity.newFollower };
        if (await store.compareAndSetRecord(id(scene), next as unknown as Record<string, unknown>, rec.version, new Date(doc.expiresAt))) return 'scanned';
      }
      return 'taken';
    },
    confirmUrl(scene) {
      return `${publicOrigin}${CONFIRM_PAGE}?attempt=${encodeURIComponent(scene)}`;
    },
  };
}
