import { Hono } from 'hono';
import { webviewRoutes } from '../http/webview.js';
import type { Door } from './door.js';
import type { MiniProgramDoor } from './mini.js';

export interface WebviewTicketDoor extends Door {
  readonly kind: 'webview';
  readonly from: MiniProgramDoor;
}

/**
 * The mini-program's web-view: POST webview/ticket (Bearer, a session of the `from` mini-program door) → a one-time
 * ticket; POST webview/session {ticket} → the H5 page's own session (flows/webview).
 */
export function webviewTicket(options: { from: MiniProgramDoor }): WebviewTicketDoor {
  return {
    kind: 'webview',
    name: 'webview',
    app: options.from.app,
    from: options.from,
    allowed: { '/ticket': 'POST', '/session': 'POST' },
    limits: { '/*': 'address' },
    logsFailures: false,
    routes: (ctx) => new Hono().use(ctx.limitBody).route('/', webviewRoutes({ from: options.from.name, store: ctx.store, sessions: ctx.sessions, logger: ctx.logger, clock: ctx.clock })),
    publicInfo: () => ({ name: 'webview', kind: 'webview', from: options.from.name }),
    check: () => ({ problems: [], notes: [] }),
  };
}
