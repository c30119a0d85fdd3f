import { generateToken, sha256Hex } from '../../crypto/tokens.js';
import { AppError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { SessionManager } from '../../sessions/sessions.js';
import type { SessionRecord, Storage, UserRecord } from '../../store/types.js';
import { defineRecord, type Zod } from '../../store/records.js';
import { currentUser } from '../../users/accounts.js';

/** The session label of a login by a web-view ticket (store/types.ts SessionRecord.via): it cannot mint tickets itself. */
export const WEBVIEW_VIA = 'webview';

/**
 * The mini-program's web-view (issue 14, "the right door"): an H5 page opened inside the
 * mini-program is logged in from the mini-program's own session, without a second authorization.
 *   1. the mini-program (Bearer token of a session of the `from` mini door) asks for a ticket: 160 random bits,
 *      stored only as its SHA-256 with the minting session's id, valid TICKET_TTL_MS, single use;
 *   2. it opens the web-view at <page>?wv_ticket=<ticket> (the H5 page sends its origin alone as Referer, so the
 *      ticket does not travel to the page's assets: index.html, docs/SECURITY.md);
 *   3. the H5 page exchanges it once (POST, never GET: a URL is not a credential anyone may replay)
 *      for its own session, `via: 'webview'` — which cannot mint tickets itself. A second exchange,
 *      an expired or unknown ticket, or one whose minting session has ended (logged out, revoked,
 *      expired) → webview_ticket_invalid.
 */
export const TICKET_TTL_MS = 60_000;
export const TICKET_PATTERN = /^[a-z2-7]{32}$/;

const TicketDoc = (z: Zod) => z.object({
  userId: z.string(),
  /** the minting `mini` session's id (the SHA-256 of its token): the ticket dies with it */
  sessionId: z.string(),
  used: z.boolean(),
});

/** `webview-ticket:<sha256(ticket)>`: expiry judged by store/records.ts only. */
const tickets = defineRecord({ prefix: 'webview-ticket', schema: TicketDoc, ttlMs: TICKET_TTL_MS });

export interface WebviewDeps {
  /** the mini-program door whose sessions may mint tickets (its name is their `via`). @default 'mini' */
  from?: string | undefined;
  store: Pick<Storage, 'records' | 'accounts'>;
  sessions: SessionManager;
  logger: Logger;
  clock?: () => Date;
}

export async function issueWebviewTicket(deps: WebviewDeps, session: SessionRecord): Promise<{ ticket: string; expiresIn: number }> {
  if (session.via !== (deps.from ?? 'mini')) throw new AppError('webview_ticket_mini_only');
  const ticket = generateToken();
  await tickets.create(deps, sha256Hex(ticket), { userId: session.userId, sessionId: session.id, used: false });
  deps.logger.log('info', 'auth.webview.ticket', { userId: session.userId });
  return { ticket, expiresIn: TICKET_TTL_MS / 1000 };
}

export async function exchangeWebviewTicket(deps: WebviewDeps, ticket: string): Promise<{ token: string; expiresAt: Date; user: UserRecord; isNewUser: false }> {
  if (!TICKET_PATTERN.test(ticket)) throw new AppError('webview_ticket_invalid');
  const rec = await tickets.read(deps, sha256Hex(ticket));
  if (!rec || rec.value.used) throw new AppError('webview_ticket_invalid');
  const doc = rec.value;
  // the mini-program session that minted it must still be live (a logout ends its tickets too);
  // the SessionManager judges that, as every session's expiry
  const minting = await deps.sessions.live(doc.sessionId);
  if (!minting || minting.via !== (deps.from ?? 'mini')) {
    deps.logger.log('info', 'auth.webview.minting_session_gone', { userId: doc.userId });
    throw new AppError('webview_ticket_invalid');
  }
  // spend it first (compare-and-set on its version): of two racing exchanges exactly one wins
  if (!(await tickets.update(deps, rec, { ...doc, used: true }))) throw new AppError('webview_ticket_invalid');
  const user = await currentUser(deps.store, await deps.store.accounts.getUser(doc.userId));
  if (!user) throw new AppError('webview_ticket_invalid');
  const { token, session } = await deps.sessions.create(user, WEBVIEW_VIA);
  deps.logger.log('info', 'auth.webview.login', { userId: user.id });
  return { token, expiresAt: session.expiresAt, user, isNewUser: false };
}
