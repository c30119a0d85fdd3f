// wlu-wxlogin-server/next: Next.js App Router route handlers.
//   // app/api/auth/[...all]/route.ts
//   export const { GET, POST, PUT, PATCH, DELETE } = toNextJsHandler(auth);
import type { WechatLogin } from './index.js';

type RouteHandler = (request: Request) => Promise<Response>;

export function toNextJsHandler(auth: Pick<WechatLogin, 'handler'>): { GET: RouteHandler; POST: RouteHandler; PUT: RouteHandler; PATCH: RouteHandler; DELETE: RouteHandler } {
  const handler: RouteHandler = (request) => auth.handler(request);
  return { GET: handler, POST: handler, PUT: handler, PATCH: handler, DELETE: handler };
}
