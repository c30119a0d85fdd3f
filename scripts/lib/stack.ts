import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { serve, type ServerType } from '@hono/node-server';
import { createServices, type ServiceOverrides, type Services } from '../../packages/server/src/main.js';
import { optionsFromEnv } from '../../packages/server/src/env.js';
import { createSimulator } from '../../packages/sim/src/app.js';
import type { SimState } from '../../packages/sim/src/state.js';

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
  /**
   * Also register an official account (公众号网页授权) under the same open platform, and pass
   * WECHAT_OA_APPID/SECRET and WECHAT_OPEN_BASE. The AppID defaults to the mini-program's plus two.
   */
  oa?: boolean | { appid?: string; secret?: string };
  /** the simulator's clock (ms), e.g. to let a QR code or a code expire in a test */
  simClock?: () => number;
  /**
   * The domains registered with the simulator's website app (授权回调域) and official account
   * (网页授权域名): a redirect_uri elsewhere gets WeChat's error page (docs/WECHAT.md "Registered domains").
   * Default: the stack's host, localhost, 127.0.0.1 and PUBLIC_BASE_URL's host.
   */
  domains?: string[];
  /**
   * The host name browsers reach the simulator by (its port unchanged), e.g. a name mapped to
   * 127.0.0.1 by Chromium's --host-resolver-rules, so the app and WeChat's pages are different sites.
   */
  simPublicHost?: string;
}

/** The AppIDs the dev stack derives from the mini-program AppID: website +1, official account +2. */
export function derivedAppid(miniAppid: string, offset = 1): string {
  const n = (BigInt(`0x${miniAppid.slice(2)}`) + BigInt(offset)) % (1n << 64n);
  return `wx${n.toString(16).padStart(16, '0')}`;
}

/** An optional browser-login app (website / official account): AppID and secret from the options, the env or derived. */
function optionalApp(
  option: boolean | { appid?: string; secret?: string } | undefined,
  env: Record<string, string | undefined> | undefined,
  prefix: 'WECHAT_WEB' | 'WECHAT_OA',
  derived: string,
): { appid: string; secret: string } | null {
  const chosen = option === true ? {} : option || null;
  if (!chosen) return null;
  return { appid: chosen.appid ?? env?.[`${prefix}_APPID`] ?? derived, secret: chosen.secret ?? env?.[`${prefix}_SECRET`] ?? randomBytes(16).toString('hex') };
}

/** The hosts a local stack's browser logins redirect to: where the API (or the H5 proxy) is reached. */
export function stackDomains(host: string, publicBaseUrl?: string): string[] {
  const hosts = [host, 'localhost', '127.0.0.1'];
  try {
    if (publicBaseUrl) hosts.push(new URL(publicBaseUrl).hostname);
  } catch {}
  return [...new Set(hosts.filter((h) => h && h !== '0.0.0.0' && h !== '::'))];
}

export interface Stack {
  apiUrl: string;
  simUrl: string;
  appid: string;
  /** the website app's AppID, when the stack registered one */
  webAppid: string | null;
  /** the official account's AppID, when the stack registered one */
  oaAppid: string | null;
  services: Services;
  sim: SimState;
  close(): Promise<void>;
}

/** A listening port is taken: names the port and the environment variable that moves it. */
export class PortInUseError extends Error {
  constructor(readonly port: number, readonly variable: string, what: string) {
    super(`Port ${port} (${what}) is already in use. Stop the other process or choose another port: ${variable}=<port>`);
    this.name = 'PortInUseError';
  }
}

function listen(
  fetch: (req: Request) => Response | Promise<Response>,
  port: number,
  hostname: string,
  label: { variable: string; what: string } = { variable: 'PORT', what: 'server' },
): Promise<{ server: ServerType; url: string }> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch, port, hostname }, (info: AddressInfo) => resolve({ server, url: `http://${hostname}:${info.port}` }));
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(error.code === 'EADDRINUSE' ? new PortInUseError(port, label.variable, label.what) : error),
    );
  });
}

/** Starts the WeChat simulator and the API (wired to it) as two local HTTP servers. */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const host = options.host ?? '127.0.0.1';
  const appid = options.env?.WECHAT_MINI_APPID ?? manifestAppid();
  const secret = options.env?.WECHAT_MINI_SECRET ?? randomBytes(16).toString('hex');
  const openPlatformId = options.openPlatformId === undefined ? 'open-platform-dev' : options.openPlatformId;
  const web = optionalApp(options.web, options.env, 'WECHAT_WEB', derivedAppid(appid, 1));
  const oa = optionalApp(options.oa, options.env, 'WECHAT_OA', derivedAppid(appid, 2));
  const domains = options.domains ?? stackDomains(host, options.env?.PUBLIC_BASE_URL);
  const sim = createSimulator({
    apps: [
      { appid, secret, openPlatformId },
      ...(web ? [{ ...web, openPlatformId, kind: 'web' as const, domains: [...domains] }] : []),
      ...(oa ? [{ ...oa, openPlatformId, kind: 'oa' as const, domains: [...domains] }] : []),
    ],
    seed: options.simSeed,
    clock: options.simClock,
  });
  const simServer = await listen(sim.app.fetch, options.simPort ?? 0, host, { variable: 'WECHAT_SIM_PORT', what: 'WeChat simulator' });
  const services = createServices(
    optionsFromEnv({
      ...options.env,
      WECHAT_MINI_APPID: appid,
      WECHAT_MINI_SECRET: secret,
      WECHAT_API_BASE: simServer.url,
      WECHAT_API_FAILOVER: '',
      ...(web ? { WECHAT_WEB_APPID: web.appid, WECHAT_WEB_SECRET: web.secret } : {}),
      ...(oa ? { WECHAT_OA_APPID: oa.appid, WECHAT_OA_SECRET: oa.secret } : {}),
      ...(web || oa ? { WECHAT_OPEN_BASE: options.simPublicHost ? simServer.url.replace(host, options.simPublicHost) : simServer.url } : {}),
      // showqrcode (mp.weixin.qq.com) is served by the simulator too
      ...(oa ? { WECHAT_MP_BASE: simServer.url } : {}),
    }),
    options.overrides,
  );
  let apiServer: { server: ServerType; url: string };
  try {
    apiServer = await listen(services.app.fetch, options.apiPort ?? 0, host, { variable: 'PORT', what: 'API' });
  } catch (error) {
    simServer.server.close();
    services.stop();
    throw error;
  }
  // 服务器配置: when the API has a Token for the official account, the simulated account pushes its
  // events to this API (what the console's 服务器配置 would say) — follow-to-login works locally.
  const oaToken = options.env?.WECHAT_OA_TOKEN;
  if (oa && oaToken) {
    const key = options.env?.WECHAT_OA_ENCODING_AES_KEY ?? null;
    const mode = options.env?.WECHAT_OA_MESSAGE_MODE ?? (key ? 'safe' : 'plain');
    sim.state.oaServer.servers.set(oa.appid, { url: `${apiServer.url}/api/auth/oa/push`, token: oaToken, encodingAesKey: key, mode: mode as 'plain' | 'compatible' | 'safe' });
  }
  return {
    apiUrl: apiServer.url,
    simUrl: simServer.url,
    appid,
    webAppid: web?.appid ?? null,
    oaAppid: oa?.appid ?? null,
    services,
    sim: sim.state,
    async close() {
      await Promise.all([apiServer, simServer].map(({ server }) => new Promise<void>((r) => server.close(() => r()))));
      services.stop();
      await services.store.close();
    },
  };
}
