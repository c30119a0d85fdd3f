import { Hono } from 'hono';
import { z } from 'zod';
import { readJson } from './json.js';
import { requireSession, type AuthVariables } from './auth.js';
import { toLoginResponse } from '../users/profile.js';
import { exchangeWebviewTicket, issueWebviewTicket, TICKET_PATTERN, type WebviewDeps } from '../flows/webview/ticket.js';

const ExchangeBody = z.object({ ticket: z.string().regex(TICKET_PATTERN, 'must be the wv_ticket from the page URL') });

/** POST /api/auth/webview/ticket (Bearer, mini session) → {ticket, expiresIn}; POST /api/auth/webview/session {ticket} → login. */
export function webviewRoutes(deps: WebviewDeps) {
  return new Hono<{ Variables: AuthVariables }>()
    .post('/ticket', requireSession(deps.sessions), async (c) => {
      return c.json(await issueWebviewTicket(deps, c.get('session')), 200, { 'cache-control': 'no-store' });
    })
    .post('/session', async (c) => {
      const { ticket } = await readJson(c, ExchangeBody);
      return c.json(toLoginResponse(await exchangeWebviewTicket(deps, ticket)), 200, { 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' });
    });
}
