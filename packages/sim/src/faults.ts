import type { MiddlewareHandler } from 'hono';
import { wxContentType, wxError } from './errors.js';
import type { SimState } from './state.js';

/** Applies a fault switched on through POST /__sim/faults to one WeChat API. */
export function withFaults(state: SimState, api: string): MiddlewareHandler {
  return async (c, next) => {
    state.countCall(api);
    const fault = state.takeFault(api);
    if (!fault) return next();
    switch (fault.mode) {
      case 'slow':
        await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
        return next();
      case 'system_error':
        return wxError(c, -1);
      case 'rate_limited':
        return wxError(c, 45011);
      case 'invalid_access_token':
        return wxError(c, 40014);
      case 'malformed':
        return c.body('{"errcode":0,"session_k', 200, { 'content-type': wxContentType(c.req.path) });
      case 'html':
        return c.body('<html><body>502 Bad Gateway</body></html>', 200, { 'content-type': 'text/html' });
      case 'http_500':
        return c.body('Internal Server Error', 500, { 'content-type': 'text/plain' });
    }
  };
}
