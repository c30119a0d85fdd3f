import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { serve, type ServerType } from '@hono/node-server';
import { createServices, type ServiceOverrides, type Services } from '../../api/_lib/main.js';
import { createSimulator } from '../../simulator/app.js';
import type { SimState } from '../../simulator/state.js';

/** The mini-program AppID the simulator registers in development: the one in manifest.json. */
export function manifestAppid(root = process.cwd()): string {
  try {
    // manifest.json may contain comments in uni-app projects; strip line comments before parsing.
    const text = readFileSync(join(root, 'manifest.json'), 'utf8').replace(/^\s*\/\/.*$/gm, '');
    const appid = JSON.parse(text)?.['mp-weixin']?.appid;
    if (typeof appid === 'string' && /^wx[0-9a-f]{16}$/.test(appid)) return appid;
  } catch {}
  return 'wxd0c0ffee00000001';
}

export interface StackOptions {
  apiPort?: number;
  simPort?: number;
  host?: string;
  env?: Record<string, string | undefined>;
  overrides?: ServiceOverrides;
  /** fixed seed → the same simulated user gets the same openid across restarts */
  simSeed?: string;
  openPlatformId?: string | null;
}

export interface Stack {
  apiUrl: string;
  simUrl: string;
  appid: string;
  services: Services;
  sim: SimState;
  close(): Promise<void>;
}

function listen(fetch: (req: Request) => Response | Promise<Response>, port: number, hostname: string): Promise<{ server: ServerType; url: string }> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch, port, hostname }, (info: AddressInfo) => resolve({ server, url: `http://${hostname}:${info.port}` }));
    server.once('error', reject);
  });
}

/** Starts the WeChat simulator and the API (wired to it) as two local HTTP servers. */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const host = options.host ?? '127.0.0.1';
  const appid = options.env?.WECHAT_MINI_APPID ?? manifestAppid();
  const secret = options.env?.WECHAT_MINI_SECRET ?? randomBytes(16).toString('hex');
  const sim = createSimulator({
    apps: [{ appid, secret, openPlatformId: options.openPlatformId === undefined ? 'open-platform-dev' : options.openPlatformId }],
    seed: options.simSeed,
  });
  const simServer = await listen(sim.app.fetch, options.simPort ?? 0, host);
  const services = createServices(
    { ...options.env, WECHAT_MINI_APPID: appid, WECHAT_MINI_SECRET: secret, WECHAT_API_BASE: simServer.url, WECHAT_API_FAILOVER: '' },
    options.overrides,
  );
  let apiServer: { server: ServerType; url: string };
  try {
    apiServer = await listen(services.app.fetch, options.apiPort ?? 0, host);
  } catch (error) {
    simServer.server.close();
    throw error;
  }
  return {
    apiUrl: apiServer.url,
    simUrl: simServer.url,
    appid,
    services,
    sim: sim.state,
    async close() {
      await Promise.all([apiServer, simServer].map(({ server }) => new Promise<void>((r) => server.close(() => r()))));
      await services.store.close();
    },
  };
}
