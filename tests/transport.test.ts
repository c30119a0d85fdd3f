import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../packages/server/src/log.js';
import { createTransport, WechatApiError, WechatUnavailableError } from '../packages/server/src/wechat/transport.js';
import { jscode2session } from '../packages/server/src/wechat/mini/jscode2session.js';
import { simCode, startStack } from './support/stack.js';

describe('WeChat transport', () => {
  it('fails over to the next access point only when the request never left', async () => {
    const stack = await startStack();
    try {
      const closed = await closedPort();
      const lines: string[] = [];
      const transport = createTransport({ baseUrls: [`http://127.0.0.1:${closed}`, stack.simUrl], timeoutMs: 2000, logger: createLogger((l) => lines.push(l)) });
      const result = await jscode2session(transport, stack.services.config.mini, await simCode(stack, 'failover'));
      expect(result.openid).toBe(stack.sim.openid(stack.appid, 'failover'));
      expect(lines.join('\n')).toContain(`127.0.0.1:${closed}`);
      expect(lines.join('\n')).not.toContain(stack.services.config.mini.secret);
    } finally {
      await stack.close();
    }
  });

  it('turns errcode replies into WechatApiError with a redacted message', async () => {
    const stack = await startStack();
    try {
      const transport = createTransport({ baseUrls: [stack.simUrl], timeoutMs: 2000, logger: createLogger(() => {}) });
      const error = await jscode2session(transport, stack.services.config.mini, 'nosuchcode0000').catch((e) => e);
      expect(error).toBeInstanceOf(WechatApiError);
      expect(error.errcode).toBe(40029);
      expect(error.errmsg).toMatch(/^invalid code, rid: [0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}$/);
      expect(error.message).not.toContain(stack.services.config.mini.secret);
    } finally {
      await stack.close();
    }
  });

  it('reads JSON served as text/plain and rejects bodies that are not JSON objects', async () => {
    const replies = ['{"openid":"o1","session_key":"k"}', '[]', 'null', '<html>'];
    const seen: unknown[] = [];
    for (const text of replies) {
      const transport = createTransport({
        baseUrls: ['https://api.weixin.qq.com'],
        timeoutMs: 1000,
        logger: createLogger(() => {}),
        fetch: async () => new Response(text, { headers: { 'content-type': 'text/plain' } }),
      });
      seen.push(await transport.get('/x', {}).catch((e) => e));
    }
    expect(seen[0]).toEqual({ openid: 'o1', session_key: 'k' });
    for (const e of seen.slice(1)) expect(e).toBeInstanceOf(WechatUnavailableError);
  });
});

/** A port nothing listens on: connecting is refused, so the request provably never left. */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
