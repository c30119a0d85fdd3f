import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { serve, type ServerType } from '@hono/node-server';
import { createServices, type ServiceOverrides, type Services } from '../../packages/server/src/main.js';
import type { ServerOptions } from '../../packages/server/src/config.js';
import { optionsFromEnv } from '../../api/_host.js';
// The simulator package's public entry ("." of wlu-wxlogin-sim): what a host's tests import.
import { DEFAULT_MINI_APPID, defaultDomains, derivedAppid, SimPortInUseError, startSimulator, type SimApp, type SimState } from '../../packages/sim/src/index.js';
import { SimPortBusy, spawnSimulator } from './sim-bin.js';

/** The mini-program AppID the simulator registers in development: the one in manifest.json. */
export function manifestAppid(root = process.cwd()): string {
  try {
    // manifest.json may contain comments in uni-app projects; strip line comments before parsing.
    const text = readFileSync(join(root, 'manifest.json'), 'utf8').replace(/^\s*\/\/.*$/gm, '');
    const appid = JSON.parse(text)?.['mp-weixin']?.appid;
    if (typeof appid === 'string' && /^wx[0-9a-f]{16}$/.test(appid)) return appid;
  } catch {}
  return DEFAULT_MINI_APPID;
}

export interface StackOptions {
  apiPort?: number;
  simPort?: number;
  host?: string;
  env?: Record<string, string | undefined>;
  overrides?: ServiceOverrides;
  /** options beside the env mapping's (e.g. `storage`, `hooks`), applied over it */
  serverOptions?: Partial<ServerOptions>;
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

/** The hosts a local stack's browser logins redirect to: where the API (or the H5 proxy) is reached (the simulator's default rule). */
export const stackDomains = defaultDomains;

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

/** What the stack registers with the simulator: its apps (mini-program, website, official account) and where they redirect. */
export interface StackPlan {
  host: string;
  appid: string;
  secret: string;
  openPlatformId: string | null;
  web: { appid: string; secret: string } | null;
  oa: { appid: string; secret: string } | null;
  apps: SimApp[];
}

export function planStack(options: StackOptions = {}): StackPlan {
  const host = options.host ?? '127.0.0.1';
  const appid = options.env?.WECHAT_MINI_APPID ?? manifestAppid();
  const secret = options.env?.WECHAT_MINI_SECRET ?? randomBytes(16).toString('hex');
  const openPlatformId = options.openPlatformId === undefined ? 'open-platform-dev' : options.openPlatformId;
  const web = optionalApp(options.web, options.env, 'WECHAT_WEB', derivedAppid(appid, 1));
  const oa = optionalApp(options.oa, options.env, 'WECHAT_OA', derivedAppid(appid, 2));
  const domains = options.domains ?? stackDomains(host, options.env?.PUBLIC_BASE_URL);
  const apps: SimApp[] = [
    { appid, secret, openPlatformId, kind: 'mini' },
    ...(web ? [{ ...web, openPlatformId, kind: 'web' as const, domains: [...domains] }] : []),
    ...(oa ? [{ ...oa, openPlatformId, kind: 'oa' as const, domains: [...domains] }] : []),
  ];
  return { host, appid, secret, openPlatformId, web, oa, apps };
}

/** The command line that makes the `wlu-wxlogin-sim` bin register the plan's apps (npm run dev). */
export function simulatorArgs(plan: StackPlan, options: { port: number; seed?: string; oaType?: string }): string[] {
  const args = ['--port', String(options.port), '--host', plan.host, '--open-platform', plan.openPlatformId ?? 'none'];
  for (const app of plan.apps) args.push('--app', `${app.kind ?? 'mini'}:${app.appid}:${app.secret}`);
  for (const domain of plan.apps.find((a) => a.domains)?.domains ?? []) args.push('--domain', domain);
  if (options.seed) args.push('--seed', options.seed);
  if (options.oaType) args.push('--oa-type', options.oaType);
  return args;
}

export interface ApiHandle {
  apiUrl: string;
  services: Services;
  close(): Promise<void>;
}

/** Starts the API wired to a simulator already listening at `simUrl`, as a host's environment would point it there. */
export async function startApi(plan: StackPlan, simUrl: string, options: StackOptions = {}): Promise<ApiHandle> {
  const { web, oa } = plan;
  const services = createServices(
    {
      ...optionsFromEnv({
        ...options.env,
        WECHAT_MINI_APPID: plan.appid,
        WECHAT_MINI_SECRET: plan.secret,
        WECHAT_API_BASE: simUrl,
        WECHAT_API_FAILOVER: '',
        ...(web ? { WECHAT_WEB_APPID: web.appid, WECHAT_WEB_SECRET: web.secret } : {}),
        ...(oa ? { WECHAT_OA_APPID: oa.appid, WECHAT_OA_SECRET: oa.secret } : {}),
        ...(web || oa ? { WECHAT_OPEN_BASE: options.simPublicHost ? simUrl.replace(plan.host, options.simPublicHost) : simUrl } : {}),
        // showqrcode (mp.weixin.qq.com) is served by the simulator too
        ...(oa ? { WECHAT_MP_BASE: simUrl } : {}),
      }),
      ...options.serverOptions,
    },
    options.overrides,
  );
  let apiServer: { server: ServerType; url: string };
  try {
    apiServer = await listen(services.app.fetch, options.apiPort ?? 0, plan.host, { variable: 'PORT', what: 'API' });
  } catch (error) {
    services.stop();
    throw error;
  }
  const close = async () => {
    await new Promise<void>((r) => apiServer.server.close(() => r()));
    services.stop();
    await services.store.close();
  };
  // 服务器配置: when the API has a Token for the official account, the simulated account pushes its
  // events to this API — entered the way the MP console does it (the simulator checks the URL with
  // a signed echostr first), so follow-to-login works locally.
  const oaToken = options.env?.WECHAT_OA_TOKEN;
  if (oa && oaToken) {
    const key = options.env?.WECHAT_OA_ENCODING_AES_KEY ?? null;
    const mode = options.env?.WECHAT_OA_MESSAGE_MODE ?? (key ? 'safe' : 'plain');
    const res = await fetch(`${simUrl}/__sim/oa/server`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ appid: oa.appid, url: `${apiServer.url}/api/auth/oa/push`, token: oaToken, encodingAesKey: key, mode }),
    });
    if (!res.ok) {
      await close();
      throw new Error(`the simulator refused the official account's server URL (${res.status}): ${await res.text()}`);
    }
  }
  return { apiUrl: apiServer.url, services, close };
}

/** Starts the WeChat simulator (in process, through the package's `startSimulator`) and the API wired to it. */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const plan = planStack(options);
  const sim = await startSimulator({ port: options.simPort ?? 0, host: plan.host, apps: plan.apps, seed: options.simSeed, clock: options.simClock }).catch((error: unknown) => {
    throw error instanceof SimPortInUseError ? new PortInUseError(error.port, 'WECHAT_SIM_PORT', 'WeChat simulator') : error;
  });
  return { ...(await apiBeside(plan, sim, options)), sim: sim.state };
}

/** The API started beside a running simulator (closed again when the API cannot start). */
async function apiBeside(plan: ReturnType<typeof planStack>, sim: { url: string; close(): Promise<void> }, options: StackOptions): Promise<Omit<Stack, 'sim'>> {
  let api: ApiHandle;
  try {
    api = await startApi(plan, sim.url, options);
  } catch (error) {
    await sim.close();
    throw error;
  }
  return {
    apiUrl: api.apiUrl,
    simUrl: sim.url,
    appid: plan.appid,
    webAppid: plan.web?.appid ?? null,
    oaAppid: plan.oa?.appid ?? null,
    services: api.services,
    async close() {
      await Promise.all([api.close(), sim.close()]);
    },
  };
}

/** The dev stack (npm run dev): the simulator as its own process through the package's bin, then the API. */
export async function startDevStack(options: StackOptions & { oaType?: string }): Promise<Omit<Stack, 'sim'>> {
  const plan = planStack(options);
  const port = options.simPort ?? 3100;
  const sim = await spawnSimulator(simulatorArgs(plan, { port, seed: options.simSeed, oaType: options.oaType })).catch((error: unknown) => {
    throw error instanceof SimPortBusy ? new PortInUseError(port, 'WECHAT_SIM_PORT', 'WeChat simulator') : error;
  });
  return apiBeside(plan, sim, options);
}
