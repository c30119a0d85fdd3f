import type { z } from 'zod';
import { randomBytes, randomInt } from 'node:crypto';
import { matchesSha256, sha256Hex } from '../../crypto/tokens.js';
import { AppError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { SessionManager } from '../../sessions/sessions.js';
import { defineRecord, lazySchema, type HeldRecord, type Zod } from '../../store/records.js';
import type { SessionRecord, Storage, UserRecord } from '../../store/types.js';
import { currentUser } from '../../users/accounts.js';
import { describeDevice, type AttemptDevice } from './device.js';
import type { AttemptStatus } from '../../../../../shared/api.js';

/**
 * A PC login attempt confirmed on a phone — independent of HTTP and of HOW the phone identified
 * the person (official-account web authorization here; an event push of a scanned parameter QR
 * in the official-account server flow). Nothing token-like is ever stored: the session is created
 * when the PC collects, and only hashes of the PC's and the phone's keys are kept.
 *
 *   create   (PC)     → attempt id (public: it is in the QR code) + pcKey (secret: the PC's cookie)
 *   scan     (phone)  → the phone's identity is recorded under a confirmKey (secret: the phone's cookie);
 *                       status waiting → scanned. A scan alone logs nobody in.
 *   page     (phone)  → what the confirmation page shows (the PC's browser, system, time, network address)
 *                       + a one-time nonce + three two-digit choices, one of them the attempt's `match`
 *   decide   (phone)  → 确认 (picking the digits the PC shows) / 取消 with that nonce: the first confirming
 *                       person wins; a wrong pick cancels the attempt (QR relay defence, docs/SECURITY.md)
 *   collect  (PC)     → with its pcKey, once: the session is created for the confirmed person
 *
 * Records (temporary, `expiresAt`): `attempt:<id>` (the attempt, its status and version drive the
 * notifier) and `attempt-scan:<sha256(confirmKey)>` (one per phone that scanned).
 */
export const ATTEMPT_TTL_MS = 3 * 60 * 1000;
/** after 确认 the PC has this long to collect (it is normally waiting on the notifier) */
export const COLLECT_TTL_MS = 60 * 1000;
/** a confirmed attempt is kept this long past its collect window, so a late collect is told 410 expired */
const COLLECT_GRACE_MS = 10 * 60 * 1000;
/** pages of one scan whose nonces stay valid at once (a reload or a HEAD must not break the page shown) */
const NONCES_KEPT = 3;

/** the statuses the PC page is told (one list for server and client: shared/api.ts) */
export type { AttemptStatus };

/** Who scanned: resolved by the caller (OA web authorization, or an event push's openid). */
export interface ScanIdentity {
  userId: string;
  /** how the phone identified the person, for the log only (e.g. 'oa-web', 'oa-event') */
  source: string;
}

export interface AttemptDeps {
  store: Pick<Storage, 'records' | 'accounts' | 'sessions'>;
  sessions: SessionManager;
  logger: Logger;
  clock?: () => Date;
  /** the session's `via` (default 'pc-qr') */
  via?: SessionRecord['via'];
  ttlMs?: number;
}

/** What a PC's status view and the notifier see. `version` changes with every transition. */
export interface AttemptView {
  id: string;
  status: AttemptStatus;
  version: number;
  expiresAt: Date;
  device: AttemptDevice;
  createdAt: Date;
  /** the two digits the PC shows and the person picks on the phone (number matching); PC-only */
  match: string;
}

/**
 * The fields a status view needs — all a Mongo change event carries (change-stream.ts,
 * ATTEMPT_VALUE_FIELDS). `expiresAt` is the QR's deadline (status `expired` after it), not the
 * record's: the record is kept COLLECT_TTL_MS longer, and its liveness is judged by store/records.ts.
 */
const AttemptViewFields = (z: Zod) =>
  z.object({
    status: z.enum(['waiting', 'scanned', 'confirmed', 'cancelled', 'taken']),
    device: z.object({ browser: z.string(), os: z.string() }),
    createdAt: z.string(),
    expiresAt: z.string(),
    match: z.string().optional(),
  });
const viewFields = lazySchema(AttemptViewFields);
const AttemptValue = (z: Zod) => AttemptViewFields(z).extend({
  pcKeyHash: z.string(),
  /** the PC's network address as the API saw it (shown on the phone as a region and a masked address) */
  pcAddress: z.string().optional(),
  match: z.string(),
  /** the confirming person (status confirmed) */
  userId: z.string().optional(),
  /** sha256 of who scanned the attempt's parametric QR (appid:openid; event push only) */
  scannedBy: z.string().optional(),
});
type AttemptValue = z.infer<ReturnType<typeof AttemptValue>>;

const ScanValue = (z: Zod) => z.object({
  attemptId: z.string(),
  userId: z.string(),
  source: z.string(),
  /** sha256 of the confirmation pages' one-time nonces (the latest NONCES_KEPT; all spent by one decision) */
  nonceHashes: z.array(z.string()).optional(),
});

/** `attempt:<id>` (the notifier reads these too: notify.ts) and `attempt-scan:<sha256(confirmKey)>`. */
export const attempts = defineRecord({ prefix: 'attempt', schema: AttemptValue, ttlMs: ATTEMPT_TTL_MS + COLLECT_TTL_MS });
const scans = defineRecord({ prefix: 'attempt-scan', schema: ScanValue, ttlMs: ATTEMPT_TTL_MS });
export type AttemptRecord = HeldRecord<AttemptValue>;

export const ATTEMPT_ID_PATTERN = /^[A-Za-z0-9_-]{22}$/;
const KEY_PATTERN = /^[A-Za-z0-9_-]{32}$/;

const random = (bytes: number) => randomBytes(bytes).toString('base64url');
const now = (deps: AttemptDeps) => deps.clock?.() ?? new Date();


/** The attempt as read (a live record, or a change event's fields); past its QR deadline it reads as status `expired`. */
export function toView(id: string, record: AttemptViewRecord | null, at: Date): AttemptView | null {
  if (!record) return null;
  const { value } = record;
  const expiresAt = new Date(value.expiresAt);
  const open = value.status === 'waiting' || value.status === 'scanned';
  const status: AttemptStatus = open && expiresAt.getTime() <= at.getTime() ? 'expired' : value.status;
  return { id, status, version: record.version, expiresAt, device: value.device, createdAt: new Date(value.createdAt), match: value.match ?? '' };
}

/** What a status view is made of: a live attempt record, or a change event's parsed fields. */
export type AttemptViewRecord = { value: z.infer<ReturnType<typeof AttemptViewFields>>; version: number };

/** A change event's record (projected fields, change-stream.ts); null when its fields do not parse. */
export async function attemptOfChange(record: { value: Record<string, unknown>; version: number }): Promise<AttemptViewRecord | null> {
  const parsed = (await viewFields.get()).safeParse(record.value);
  return parsed.success ? { value: parsed.data, version: record.version } : null;
}

export async function readAttempt(deps: AttemptDeps, id: string): Promise<AttemptView | null> {
  if (!ATTEMPT_ID_PATTERN.test(id)) return null;
  return toView(id, await attempts.read(deps, id), now(deps));
}

/** Two digits, 10–99 (always two to read and to pick). */
const twoDigits = () => String(randomInt(10, 100));

/**
 * PC: a new attempt. `userAgent` is shown on the phone (browser, system) — never trusted for anything
 * else; `address` (the PC's network address) is shown on the phone as a region and a masked address.
 * `view.match`: the two digits the PC shows; the person must pick them on the phone.
 */
export async function createAttempt(deps: AttemptDeps, input: { userAgent: string | undefined; address?: string | null }): Promise<{ id: string; pcKey: string; expiresAt: Date; view: AttemptView }> {
  const at = now(deps);
  const id = random(16);
  const pcKey = random(24);
  const expiresAt = new Date(at.getTime() + (deps.ttlMs ?? ATTEMPT_TTL_MS));
  const value: AttemptValue = {
    status: 'waiting',
    pcKeyHash: sha256Hex(pcKey),
    device: describeDevice(input.userAgent),
    ...(input.address ? { pcAddress: input.address.slice(0, 64) } : {}),
    match: twoDigits(),
    createdAt: at.toISOString(),
    expiresAt: expiresAt.toISOString(),
  };
  // the collect window may outlive the QR code: keep the record that long
  const written = await attempts.create(deps, id, value, { expiresAt: new Date(expiresAt.getTime() + COLLECT_TTL_MS) });
  if (!written) throw new AppError('internal_error'); // 128 random bits collided
  deps.logger.log('info', 'auth.pc.attempt_created', { device: value.device });
  return { id, pcKey, expiresAt, view: { id, status: 'waiting', version: 1, expiresAt, device: value.device, createdAt: at, match: value.match } };
}

/** The attempt of a PC that holds `pcKey`: a wrong or missing key is answered like an unknown attempt. */
async function pcAttempt(deps: AttemptDeps, id: string, pcKey: string) {
  if (!ATTEMPT_ID_PATTERN.test(id) || !KEY_PATTERN.test(pcKey)) throw new AppError('pc_login_invalid');
  const record = await attempts.read(deps, id);
  if (!record || !matchesSha256(pcKey, record.value.pcKeyHash)) throw new AppError('pc_login_invalid');
  return { record, value: record.value, view: toView(id, record, now(deps))! };
}

/** PC: the status of its own attempt (the status endpoints use this; the notifier reads by id). */
export async function pcStatus(deps: AttemptDeps, id: string, pcKey: string): Promise<AttemptView> {
  return (await pcAttempt(deps, id, pcKey)).view;
}

/**
 * Phone: someone identified as `identity` opened the attempt's QR code. Returns the confirmKey that
 * lets this phone (and only it) open the confirmation page. The attempt goes waiting → scanned; a
 * second phone scanning a scanned attempt gets its own key (the first to 确认 wins).
 */
export async function scanAttempt(deps: AttemptDeps, id: string, identity: ScanIdentity): Promise<{ confirmKey: string; view: AttemptView }> {
  const at = now(deps);
  if (!ATTEMPT_ID_PATTERN.test(id)) throw new AppError('pc_login_invalid');
  for (let tries = 0; tries < 5; tries++) {
    const record = await attempts.read(deps, id);
    const view = toView(id, record, at);
    if (!record || !view) throw new AppError('pc_login_expired');
    if (view.status === 'expired') throw new AppError('pc_login_expired');
    if (view.status !== 'waiting' && view.status !== 'scanned') throw new AppError('pc_login_used');
    if (view.status === 'waiting') {
      const value = { ...record.value, status: 'scanned' as const };
      const moved = await attempts.update(deps, record, value, { expiresAt: storedUntil(value) });
      if (!moved) continue; // another phone or the PC's refresh got there first: look again
    }
    const confirmKey = random(24);
    await scans.create(deps, sha256Hex(confirmKey), { attemptId: id, userId: identity.userId, source: identity.source }, { expiresAt: view.expiresAt });
    deps.logger.log('info', 'auth.pc.scanned', { userId: identity.userId, source: identity.source });
    return { confirmKey, view: { ...view, status: 'scanned', version: view.status === 'waiting' ? view.version + 1 : view.version } };
  }
  throw new AppError('pc_login_used');
}

/**
 * An event push says someone scanned the attempt's parametric QR (关注公众号登录): the attempt goes
 * waiting → scanned so the PC shows 已扫码. Nothing token-like is recorded and nobody is identified
 * here — the person who opens the confirmation link is identified there (scanAttempt). `scanner` is
 * an opaque key of who scanned (e.g. appid:openid): the same person again is 'scanned' (idempotent),
 * anyone else (or after a scan through the web page) 'taken'; a missing, expired or finished attempt
 * is 'unknown'. `view` is set when the status changed (the caller tells the notifier).
 */
export async function markAttemptScanned(deps: AttemptDeps, id: string, scanner: string): Promise<{ result: 'scanned' | 'taken' | 'unknown'; view?: AttemptView }> {
  if (!ATTEMPT_ID_PATTERN.test(id)) return { result: 'unknown' };
  for (let tries = 0; tries < 5; tries++) {
    const record = await attempts.read(deps, id);
    const view = toView(id, record, now(deps));
    if (!record || !view || (view.status !== 'waiting' && view.status !== 'scanned')) return { result: 'unknown' };
    const { value } = record;
    if (view.status === 'scanned') return { result: value.scannedBy === sha256Hex(scanner) ? 'scanned' : 'taken' };
    const next: AttemptValue = { ...value, status: 'scanned', scannedBy: sha256Hex(scanner) };
    if (await attempts.update(deps, record, next, { expiresAt: storedUntil(value) })) {
      deps.logger.log('info', 'auth.pc.scanned', { source: 'oa-event' });
      return { result: 'scanned', view: { ...view, status: 'scanned', version: record.version + 1 } };
    }
  }
  return { result: 'taken' };
}

/**
 * Whether the person `scanner` (followerKey: appid:openid) may take the attempt's phone side: an
 * attempt whose parametric QR was scanned (markAttemptScanned) belongs to that scanner only — a
 * forwarded reply link opened by anyone else is refused before anything changes. An attempt
 * scanned through our own QR records no scanner: true.
 */
export async function isAttemptScanner(deps: AttemptDeps, id: string, scanner: string): Promise<boolean> {
  if (!ATTEMPT_ID_PATTERN.test(id)) return false;
  const value = (await attempts.read(deps, id))?.value;
  if (!value?.scannedBy) return true;
  return matchesSha256(scanner, value.scannedBy);
}

function storedUntil(value: AttemptValue): Date {
  return new Date(new Date(value.expiresAt).getTime() + COLLECT_TTL_MS);
}

async function scanOf(deps: AttemptDeps, confirmKey: string | undefined) {
  if (!confirmKey || !KEY_PATTERN.test(confirmKey)) throw new AppError('pc_login_invalid');
  const record = await scans.read(deps, sha256Hex(confirmKey));
  if (!record) throw new AppError('pc_login_expired');
  return { record, scan: record.value };
}

export interface ConfirmationPage {
  view: AttemptView;
  /**
   * one-time value the page's form carries back with 确认 / 取消; showing the page again (a reload, a
   * HEAD, a prefetch) adds a new one and the latest NONCES_KEPT stay valid until one is spent
   */
  nonce: string;
  /** three different two-digit choices in random order, one of them the PC's digits */
  choices: string[];
  /** the PC's network address as recorded when it asked (null: unknown) */
  pcAddress: string | null;
}

/** Phone: what the confirmation page shows, a one-time nonce for its form and the digits to choose from. */
export async function confirmationPage(deps: AttemptDeps, confirmKey: string | undefined): Promise<ConfirmationPage> {
  for (let tries = 0; tries < 5; tries++) {
    const { record, scan } = await scanOf(deps, confirmKey);
    const attempt = await attempts.read(deps, scan.attemptId);
    const view = toView(scan.attemptId, attempt, now(deps));
    if (!view || view.status === 'expired') throw new AppError('pc_login_expired');
    if (view.status !== 'waiting' && view.status !== 'scanned') throw new AppError(view.status === 'cancelled' ? 'pc_login_cancelled' : 'pc_login_used');
    const nonce = random(24);
    if (await scans.update(deps, record, { ...scan, nonceHashes: [...(scan.nonceHashes ?? []), sha256Hex(nonce)].slice(-NONCES_KEPT) })) {
      return { view, nonce, choices: choicesFor(view.match), pcAddress: attempt!.value.pcAddress ?? null };
    }
    // the same page opened twice at once: both keep a valid nonce, this one tries again
  }
  throw new AppError('pc_login_used');
}

/** The right digits and two different decoys, shuffled. */
function choicesFor(match: string): string[] {
  const choices = new Set([match]);
  while (choices.size < 3) choices.add(twoDigits());
  const list = [...choices];
  for (let i = list.length - 1; i > 0; i--) {
    const j = randomInt(0, i + 1);
    [list[i], list[j]] = [list[j]!, list[i]!];
  }
  return list;
}

export interface DecideResult extends AttemptView {
  /** 确认 with digits other than the PC's: the attempt was cancelled instead */
  wrongPick?: boolean;
}

/**
 * Phone: 确认 or 取消, by the phone that scanned (confirmKey) with one of its pages' nonces (all are
 * spent here). 确认 must carry `pick`, the two digits the PC shows: the right ones and the first
 * person wins the attempt; any other digits cancel it (`wrongPick`, the PC sees 已取消) — someone
 * who was sent the link and does not see the PC cannot log it in with one tap. 取消 ends it too.
 */
export async function decideAttempt(deps: AttemptDeps, input: { confirmKey: string | undefined; nonce: string | undefined; action: 'confirm' | 'cancel'; pick?: string }): Promise<DecideResult> {
  const at = now(deps);
  const { record: scanRecord, scan } = await scanOf(deps, input.confirmKey);
  const nonceHashes = scan.nonceHashes ?? [];
  if (!input.nonce || !KEY_PATTERN.test(input.nonce) || !nonceHashes.some((hash) => matchesSha256(input.nonce!, hash))) throw new AppError('pc_login_invalid');
  // the nonces are spent whatever happens next
  if (!(await scans.update(deps, scanRecord, { ...scan, nonceHashes: [] }))) {
    throw new AppError('pc_login_invalid');
  }
  const record = await attempts.read(deps, scan.attemptId);
  const view = toView(scan.attemptId, record, at);
  if (!record || !view || view.status === 'expired') throw new AppError('pc_login_expired');
  if (view.status !== 'waiting' && view.status !== 'scanned') throw new AppError(view.status === 'cancelled' ? 'pc_login_cancelled' : 'pc_login_used');
  const { value } = record;
  const confirm = input.action === 'confirm' && input.pick === value.match;
  const wrongPick = input.action === 'confirm' && !confirm;
  const next: AttemptValue = confirm
    ? { ...value, status: 'confirmed', userId: scan.userId, expiresAt: new Date(at.getTime() + COLLECT_TTL_MS).toISOString() }
    : { ...value, status: 'cancelled' };
  // a confirmed attempt outlives its collect window (a late collect reads 410 expired, not 400 unknown)
  const until = confirm ? new Date(at.getTime() + COLLECT_TTL_MS + COLLECT_GRACE_MS) : storedUntil(value);
  if (!(await attempts.update(deps, record, next, { expiresAt: until }))) {
    // someone else confirmed or cancelled between our read and write: first one wins
    throw new AppError('pc_login_used');
  }
  deps.logger.log('info', `auth.pc.${confirm ? 'confirmed' : wrongPick ? 'wrong_pick' : 'cancelled'}`, { userId: scan.userId, source: scan.source });
  return { ...view, status: next.status, version: record.version + 1, expiresAt: new Date(next.expiresAt), ...(wrongPick ? { wrongPick: true } : {}) };
}

export interface CollectResult {
  token: string;
  expiresAt: Date;
  user: UserRecord;
  isNewUser: boolean;
}

/**
 * PC: takes the session of a confirmed attempt, once, with its own pcKey. The session is created
 * first; exactly one taker wins the record's next version and a loser's session is removed again.
 */
export async function collectAttempt(deps: AttemptDeps, id: string, pcKey: string): Promise<CollectResult> {
  const { record, value, view } = await pcAttempt(deps, id, pcKey);
  if (view.status === 'taken') throw new AppError('pc_login_used');
  if (view.status === 'cancelled') throw new AppError('pc_login_cancelled');
  if (view.status === 'expired') throw new AppError('pc_login_expired');
  if (view.status !== 'confirmed' || !value.userId) throw new AppError('pc_login_not_confirmed');
  if (new Date(value.expiresAt).getTime() <= now(deps).getTime()) throw new AppError('pc_login_expired');
  const user = await currentUser(deps.store, await deps.store.accounts.getUser(value.userId));
  if (!user) throw new AppError('pc_login_invalid');
  const { token, session } = await deps.sessions.create(user, deps.via ?? 'pc-qr');
  let won = false;
  try {
    won = (await attempts.update(deps, record, { ...value, status: 'taken' }, { expiresAt: new Date(value.expiresAt) })) !== null;
  } finally {
    if (!won) await deps.sessions.invalidate(token).catch(() => {});
  }
  if (!won) throw new AppError('pc_login_used');
  deps.logger.log('info', 'auth.pc.login', { userId: user.id });
  return { token, expiresAt: session.expiresAt, user, isNewUser: false };
}

export type { AttemptDevice };
