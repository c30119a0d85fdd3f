import { Hono } from 'hono';
import { AppError } from '../errors.js';
import { requireSession, type AuthVariables } from './auth.js';
import { toLoginResponse } from '../users/profile.js';
import { exchangeWebviewTicket, issueWebviewTicket, TICKET_PATTERN, type WebviewDeps } from '../flows/webview/ticket.js';

/**
 * The one field of the exchange body, checked by hand: no schema library on this path (a cold
 * start loads none for it).
 */
async function readTicket(c: { req: { header(name: string): string | undefined; text(): Promise<string> } }): Promise<string> {
  if (!/^application\/json\b/i.test(c.req.header('content-type') ?? '')) throw new AppError('unsupported_media_type');
  let body: unknown;
  try {
    body = JSON.parse(await c.req.text());
  } catch {
    throw new AppError('invalid_json');
  }
  const ticket = (body as { ticket?: unknown } | null)?.ticket;
  if (typeof ticket !== 'string' || !TICKET_PATTERN.test(ticket)) throw new AppError('invalid_request', '请求参数不正确：ticket must be the wv_ticket from the page URL');
  return ticket;
}

/** POST /api/auth/webview/ticket (Bearer, mini session) → {ticket, expiresIn}; POST /api/auth/webview/session {ticket} → login. */
export function webviewRoutes(deps: WebviewDeps) {
  return new Hono<{ Variables: AuthVariables }>()
    .post('/ticket', requireSession(deps.sessions), async (c) => {
      return c.json(await issueWebviewTicket(deps, c.get('session')), 200, { 'cache-control': 'no-store' });
    })
    .post('/session', async (c) => {
      const ticket = await readTicket(c);
      return c.json(toLoginResponse(await exchangeWebviewTicket(deps, ticket)), 200, { 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' });
    });
}
