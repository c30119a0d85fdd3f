// The WeChat transport's own HTTP client (node:http / node:https with keep-alive agents, no global
// fetch): every behaviour the fetch-based one had, proven against real sockets.
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../packages/server/src/log.js';
import { createTransport, IDLE_SOCKET_MS, WechatApiError, WechatUnavailableError } from '../packages/server/src/wechat/transport.js';

interface Fake {
  url: string;
  server: Server;
  /** TCP connections accepted so far */
  connections: number;
  requests: { method: string; url: string; headers: IncomingMessage['headers']; body: string }[];
}

const open: Server[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => new Promise<void>((done) => {
    s.closeAllConnections?.();
    s.close(() => done());
  })));
});

/** A stand-in for WeChat: `answer` gets each request (body already read) and writes the reply. */
async function fake(answer: (req: IncomingMessage, res: ServerResponse, fake: Fake) => void, configure?: (server: Server) => void): Promise<Fake> {
  const server = createHttpServer();
  configure?.(server);
  const state: Fake = { url: '', server, connections: 0, requests: [] };
  server.on('connection', () => state.connections++);
  server.on('request', (req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      state.requests.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      answer(req, res, state);
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  open.push(server);
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return state;
}

const ok = (res: ServerResponse, body: unknown = { openid: 'o1', session_key: 'k' }) => {
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.end(JSON.stringify(body));
};

function transport(baseUrls: string[], timeoutMs = 1000, lines: string[] = [], headers?: Record<string, string>) {
  return createTransport({ baseUrls, timeoutMs, logger: createLogger((line) => lines.push(line), 'debug'), headers });
}

/** The error a call fails with (a call that succeeds fails the test). */
function failure(call: Promise<unknown>): Promise<any> {
  return call.then(
    (value) => {
      throw new Error(`expected a failure, got ${JSON.stringify(value)}`);
    },
    (error) => error,
  );
}

/** A port nothing listens on: connecting is refused, so the request provably never left. */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createNetServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

describe('WeChat transport over node:http', () => {
  it('keeps the connection alive: sequential calls share one socket', async () => {
    const wx = await fake((_req, res) => ok(res));
    const t = transport([wx.url]);
    for (let i = 0; i < 3; i++) expect(await t.get('/sns/jscode2session', { js_code: `c${i}` })).toEqual({ openid: 'o1', session_key: 'k' });
    expect(wx.requests).toHaveLength(3);
    expect(wx.connections).toBe(1);
  });

  it('opens a new connection when the server has closed the idle one', async () => {
    const wx = await fake((_req, res) => ok(res), (server) => (server.keepAliveTimeout = 50));
    const t = transport([wx.url]);
    await t.get('/x', {});
    await new Promise((r) => setTimeout(r, 250)); // the server closes the idle socket after 50 ms
    expect(await t.get('/x', {})).toEqual({ openid: 'o1', session_key: 'k' });
    expect(wx.connections).toBe(2);
  });

  it('sends the query, the relay headers and a JSON body with its byte length', async () => {
    const wx = await fake((_req, res) => ok(res, { errcode: 0, errmsg: 'ok', access_token: 'T' }));
    const t = transport([`${wx.url}/relay/`], 1000, [], { 'x-relay-key': 'relay-secret-1' });
    await t.get('/sns/jscode2session', { appid: 'wx1', secret: 's e/c&r=t', js_code: '码', grant_type: 'authorization_code' });
    await t.postJson('/cgi-bin/stable_token', {}, { grant_type: 'client_credential', note: '中文' });
    const [get, post] = wx.requests;
    expect(get!.method).toBe('GET');
    expect(get!.url.split('?')[0]).toBe('/relay/sns/jscode2session');
    expect(Object.fromEntries(new URLSearchParams(get!.url.split('?')[1]))).toEqual({ appid: 'wx1', secret: 's e/c&r=t', js_code: '码', grant_type: 'authorization_code' });
    expect(get!.headers['x-relay-key']).toBe('relay-secret-1');
    expect(get!.headers['content-type']).toBeUndefined();
    expect(post!.method).toBe('POST');
    expect(post!.url).toBe('/relay/cgi-bin/stable_token');
    expect(post!.headers['content-type']).toBe('application/json');
    expect(post!.headers['x-relay-key']).toBe('relay-secret-1');
    expect(Number(post!.headers['content-length'])).toBe(Buffer.byteLength(post!.body));
    expect(JSON.parse(post!.body)).toEqual({ grant_type: 'client_credential', note: '中文' });
  });

  it('a server that never answers is cut off at the deadline (timeout), and nothing is tried elsewhere', async () => {
    const silent = await fake(() => {});
    const second = await fake((_req, res) => ok(res));
    const lines: string[] = [];
    const started = Date.now();
    const error = await failure(transport([silent.url, second.url], 300, lines).get('/sns/jscode2session', { js_code: 'c', secret: 'topsecret-1' }));
    const elapsed = Date.now() - started;
    expect(error).toBeInstanceOf(WechatUnavailableError);
    expect(error.reason).toBe('timeout');
    expect(elapsed).toBeGreaterThanOrEqual(280);
    expect(elapsed).toBeLessThan(1000);
    expect(second.requests).toHaveLength(0);
    expect(lines.join('\n')).toContain('wechat.request_failed');
    expect(lines.join('\n')).not.toContain('topsecret-1');
  });

  it('the deadline covers the body: headers then silence is a timeout', async () => {
    const stall = await fake((_req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('{"openid":');
    });
    const started = Date.now();
    const error = await failure(transport([stall.url], 300).get('/x', {}));
    expect(error).toBeInstanceOf(WechatUnavailableError);
    expect(error.reason).toBe('timeout');
    expect(error.message).toContain('body could not be read');
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('one deadline for the whole call: a failover gets only what the first access point left', async () => {
    // The first access point takes 300 ms to fail without the request leaving (refused); the second
    // never answers. With a 500 ms budget the call must end near 500 ms, not 300 + 500.
    const seen: string[] = [];
    const slowRefusal = (async (input: URL | string, init?: RequestInit) => {
      seen.push(new URL(String(input)).host);
      if (String(input).startsWith('https://api.weixin.qq.com')) {
        await new Promise((r) => setTimeout(r, 300));
        throw Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
      }
      return new Promise<Response>((_resolve, reject) => init!.signal!.addEventListener('abort', () => reject(init!.signal!.reason)));
    }) as typeof fetch;
    const t = createTransport({ baseUrls: ['https://api.weixin.qq.com', 'https://api2.weixin.qq.com'], timeoutMs: 500, logger: createLogger(() => {}), fetch: slowRefusal });
    const started = Date.now();
    const error = await failure(t.get('/x', {}));
    const elapsed = Date.now() - started;
    expect(seen).toEqual(['api.weixin.qq.com', 'api2.weixin.qq.com']);
    expect(error.reason).toBe('timeout');
    expect(elapsed).toBeGreaterThanOrEqual(480);
    expect(elapsed).toBeLessThan(750);

    // the same budget over node:http: a refused first access point, a silent second one
    const closed = await closedPort();
    const silent = await fake(() => {});
    const t0 = Date.now();
    expect((await failure(transport([`http://127.0.0.1:${closed}`, silent.url], 400).get('/x', {}))).reason).toBe('timeout');
    expect(silent.requests).toHaveLength(1);
    expect(Date.now() - t0).toBeLessThan(900);
  });

  it('fails over when the connection is refused, never after the request was sent', async () => {
    const closed = await closedPort();
    const second = await fake((_req, res) => ok(res));
    const lines: string[] = [];
    expect(await transport([`http://127.0.0.1:${closed}`, second.url], 1000, lines).get('/x', { secret: 'topsecret-2' })).toEqual({ openid: 'o1', session_key: 'k' });
    expect(lines.join('\n')).toContain(`127.0.0.1:${closed}`);
    expect(lines.join('\n')).toContain('ECONNREFUSED');
    expect(lines.join('\n')).not.toContain('topsecret-2');

    // A connection reset after the request arrived: the code may be spent, so no second access point.
    const reset = await fake((req) => req.socket.destroy());
    const third = await fake((_req, res) => ok(res));
    const error = await failure(transport([reset.url, third.url]).get('/sns/jscode2session', { js_code: 'c' }));
    expect(error).toBeInstanceOf(WechatUnavailableError);
    expect(error.reason).toBe('network');
    expect(reset.requests).toHaveLength(1);
    expect(third.requests).toHaveLength(0);
  });

  it('a body cut short is a network failure, never a half-parsed answer', async () => {
    const short = await fake((req, res) => {
      res.writeHead(200, { 'content-length': '200' });
      res.write('{"openid":"o1","session_key":"k"}');
      setTimeout(() => req.socket.destroy(), 20);
    });
    const error = await failure(transport([short.url]).get('/x', {}));
    expect(error).toBeInstanceOf(WechatUnavailableError);
    expect(error.reason).toBe('network');
    expect(error.message).toContain('body could not be read');
  });

  it('refuses redirects (WeChat never redirects) without following them', async () => {
    const elsewhere = await fake((_req, res) => ok(res));
    const redirecting = await fake((_req, res) => {
      res.writeHead(302, { location: `${elsewhere.url}/x`, 'content-type': 'application/json' });
      res.end('{"openid":"o-redirect","session_key":"k"}');
    });
    const error = await failure(transport([redirecting.url]).get('/x', {}));
    expect(error).toBeInstanceOf(WechatUnavailableError);
    expect(error.reason).toBe('network');
    expect(elsewhere.requests).toHaveLength(0);
  });

  it('decodes a gzip body and maps status codes and errcodes as before', async () => {
    const wx = await fake((req, res) => {
      if (req.url!.startsWith('/gzip')) {
        res.writeHead(200, { 'content-encoding': 'gzip' });
        return res.end(gzipSync(JSON.stringify({ openid: 'o-gz', session_key: 'k' })));
      }
      if (req.url!.startsWith('/busy')) return ok(res, { errcode: -1, errmsg: 'system error' });
      if (req.url!.startsWith('/limited')) return void res.writeHead(429).end('{}');
      res.writeHead(502).end('bad gateway');
    });
    const t = transport([wx.url]);
    expect(await t.get('/gzip', {})).toEqual({ openid: 'o-gz', session_key: 'k' });
    const busy = await failure(t.get('/busy', {}));
    expect(busy).toBeInstanceOf(WechatApiError);
    expect(busy.errcode).toBe(-1);
    for (const path of ['/limited', '/down']) {
      const error = await failure(t.get(path, {}));
      expect(error).toBeInstanceOf(WechatUnavailableError);
      expect(error.reason).toBe('http_status');
    }
  });

  it('an https access point is reached over TLS (node:https, loaded on first use)', async () => {
    // A TCP server that records the first byte a client sends and hangs up: 0x16 opens a TLS handshake.
    const first: number[] = [];
    const tcp = createNetServer((socket) => socket.once('data', (chunk) => {
      first.push(chunk[0]!);
      socket.destroy();
    }));
    await new Promise<void>((done) => tcp.listen(0, '127.0.0.1', done));
    try {
      const port = (tcp.address() as AddressInfo).port;
      const error = await failure(transport([`https://127.0.0.1:${port}`]).get('/x', {}));
      expect(error).toBeInstanceOf(WechatUnavailableError);
      expect(error.reason).toBe('network');
      expect(first).toEqual([0x16]);
    } finally {
      await new Promise((done) => tcp.close(done));
    }
  });

  it('an answer slower than the idle-socket limit (4 s) but inside the deadline is still read', async () => {
    // The agent's 4 s socket timeout closes IDLE sockets only; a call in flight runs to its own deadline.
    const slow = await fake((_req, res) => setTimeout(() => ok(res), IDLE_SOCKET_MS + 400));
    expect(await transport([slow.url], IDLE_SOCKET_MS + 2000).get('/x', {})).toEqual({ openid: 'o1', session_key: 'k' });
  }, 10_000);

  it('many calls at once share a handful of sockets, all answered', async () => {
    const wx = await fake((_req, res) => setTimeout(() => ok(res), 5));
    const t = transport([wx.url]);
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => t.get('/x', { i: String(i) })));
    expect(results).toHaveLength(40);
    const again = await Promise.all(Array.from({ length: 40 }, (_, i) => t.get('/x', { i: String(i) })));
    expect(again).toHaveLength(40);
    // the second wave reuses the first wave's sockets (without keep-alive: 80 connections)
    expect(wx.connections).toBeLessThanOrEqual(40);
  });
});
