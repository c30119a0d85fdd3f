// wlu-wxlogin-server/node: Node `http` and Express.
//   app.all('/api/auth/*', toNodeHandler(auth));            // Express 4 ('/api/auth/*splat' on Express 5)
//   const s = await auth.getSession(fromNodeHeaders(req.headers));   // in the host's own routes
// Mount it before express.json() if you can. Mounted after a body parser, the body the parser already
// read is handed on: the raw bytes when the parser kept them (express.raw, express.text, `rawBody`),
// JSON and flat forms re-serialized; anything else answers 503 server_misconfigured naming the fix.
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import { misconfiguredBody } from './http/failure.js';
import type { WechatLogin } from './index.js';

type NodeRequest = IncomingMessage & { rawBody?: unknown; body?: unknown; _body?: boolean };

const BODY_CONSUMED_FIX = 'the request body was already read by a body parser (express.json() or similar) mounted before toNodeHandler(auth): mount toNodeHandler(auth) first';

export function toNodeHandler(auth: Pick<WechatLogin, 'handler'>): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const listener = getRequestListener((request) => auth.handler(request));
  return async (req, res) => {
    const incoming = req as NodeRequest;
    if (bodyConsumed(incoming) && !Buffer.isBuffer(incoming.rawBody)) {
      const raw = consumedBody(incoming);
      if (!raw) {
        console.error(JSON.stringify({ level: 'error', event: 'node.body_consumed', message: BODY_CONSUMED_FIX }));
        const body = misconfiguredBody(['请求体已被其他中间件读取，请把 toNodeHandler(auth) 挂在 express.json() 之前']);
        res.writeHead(503, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' }).end(JSON.stringify(body));
        return;
      }
      incoming.rawBody = raw;
      setContentLength(incoming, raw.length);
    }
    await listener(req, res);
  };
}

/** Node's header object → Web `Headers` (for `auth.getSession`). */
export function fromNodeHeaders(headers: IncomingHttpHeaders): Headers {
  const out = new Headers();
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) out.append(name, v);
  }
  return out;
}

function bodyConsumed(req: NodeRequest): boolean {
  if (req.method === 'GET' || req.method === 'HEAD') return false;
  return req._body === true || req.readableEnded;
}

/** The bytes a body parser already read, when they can be given back exactly or equivalently. */
function consumedBody(req: NodeRequest): Buffer | null {
  const body = req.body;
  if (Buffer.isBuffer(body)) return body;
  if (typeof body === 'string') return Buffer.from(body);
  const type = String(req.headers['content-type'] ?? '').toLowerCase();
  if (body !== null && typeof body === 'object') {
    if (/^application\/([\w.+-]+\+)?json\b/.test(type)) return Buffer.from(JSON.stringify(body));
    const entries = Object.entries(body as Record<string, unknown>);
    if (type.startsWith('application/x-www-form-urlencoded') && entries.every(([, v]) => typeof v === 'string')) {
      return Buffer.from(new URLSearchParams(entries as [string, string][]).toString());
    }
  }
  return null;
}

/** The request @hono/node-server builds takes its headers from rawHeaders: keep content-length true. */
function setContentLength(req: NodeRequest, length: number): void {
  const raw = req.rawHeaders;
  let found = false;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() === 'content-length') {
      raw[i + 1] = String(length);
      found = true;
    }
    if (raw[i]!.toLowerCase() === 'transfer-encoding') raw.splice(i, 2), (i -= 2);
  }
  if (!found) raw.push('content-length', String(length));
}
