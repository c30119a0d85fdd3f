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
  /**
   * Also register a website app (QR login) under the same open platform as the mini-program, so
   * one person gets one unionid, and pass WECHAT_WEB_APPID/SECRET and WECHAT_OPEN_BASE to the API.
   * The AppID defaults to the mini-program's plus one (wxd0c0ffee00000001 → wxd0c0ffee00000002).
   */
  web?: boolean | { appid?: string; secret?: string };
  /** the simulator's clock (ms), e.g. to let a QR code or a code expire in a test */
  simClock?: () => number;
}

/** The website AppID the dev stack derives from the mini-program AppID: the next number. */
export function derivedWebAppid(miniAppid: string): string {
  const n = (BigInt(`0x${miniAppid.slice(2)}`) + 1n) % (1n << 64n);
  return `wx${n.toString(16).padStart(16, '0')}`;
}

export interface Stack {
  apiUrl: string;
  simUrl: string;
  appid: string;
  /** the website app's AppID, when the stack registered one */
  webAppid: string | null;
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
  const openPlatformId = options.openPlatformId === undefined ? 'open-platform-dev' : options.openPlatformId;
  const webOptions = options.web === true ? {} : options.web || null;
  const web = webOptions
    ? {
        appid: webOptions.appid ?? options.env?.WECHAT_WEB_APPID ?? derivedWebAppid(appid),
        secret: webOptions.secret ?? options.env?.WECHAT_WEB_SECRET ?? randomBytes(16).toString('hex'),
      }
    : null;
  const sim = createSimulator({
    apps: [{ appid, secret, openPlatformId }, ...(web ? [{ ...web, openPlatformId, kind: 'web' as const }] : [])],
    seed: options.simSeed,
    clock: options.simClock,
  });
  const simServer = await listen(sim.app.fetch, options.simPort ?? 0, host);
  const services = createServices(
    {
      ...options.env,
      WECHAT_MINI_APPID: appid,
      WECHAT_MINI_SECRET: secret,
      WECHAT_API_BASE: simServer.url,
      WECHAT_API_FAILOVER: '',
      ...(web ? { WECHAT_WEB_APPID: web.appid, WECHAT_WEB_SECRET: web.secret, WECHAT_OPEN_BASE: simServer.url } : {}),
    },
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
    webAppid: web?.appid ?? null,
    services,
    sim: sim.state,
    async close() {
      await Promise.all([apiServer, simServer].map(({ server }) => new Promise<void>((r) => server.close(() => r()))));
      await services.store.close();
    },
  };
}
