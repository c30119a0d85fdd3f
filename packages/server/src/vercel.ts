// wlu-wxlogin-server/vercel: a Vercel function's default export. Vercel's Node.js runtime
// (@vercel/node) serves a default export whose `fetch` is a function as a Web handler
// (tests/vercel-runtime.test.ts checks the launcher still accepts that shape):
//   // api/auth.ts (vercel.json rewrites /api/auth/(.*) to /api/auth)
//   export default toVercel(createWechatLogin(options));
import type { WechatLogin } from './index.js';

export interface VercelFetchEntry {
  fetch(request: Request): Promise<Response>;
}

export function toVercel(auth: Pick<WechatLogin, 'handler'>): VercelFetchEntry {
  return { fetch: (request) => auth.handler(request) };
}
