import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { checkLatencyMs } from './app.js';
import { DEFAULT_MINI_APPID, defaultDomains, derivedAppid } from './defaults.js';
import { OA_ACCOUNT_TYPES, type OaAccountType, type SimApp } from './state.js';

/** Thrown for a command line the CLI cannot run: printed with a pointer to --help, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export const DEFAULT_PORT = 3100;
export const DEFAULT_OPEN_PLATFORM = 'open-platform-dev';
const KINDS = ['mini', 'web', 'oa'] as const;
type Kind = (typeof KINDS)[number];
const APPID = /^wx[0-9a-f]{16}$/;
const SECRET = /^[A-Za-z0-9_-]{1,128}$/;

export const HELP = `wlu-wxlogin-sim — a strict local WeChat simulator (development and tests only, never production)
wlu-wxlogin-sim — 本地微信服务端模拟器（仅用于开发和测试，切勿用于生产环境）

Usage / 用法:
  npx wlu-wxlogin-sim [--port 3100] [--app mini:wx…:secret] [--app web:wx…] [--app oa:wx…] [flags]

Flags / 参数:
  --port <n>             port to listen on; 0 = any free port (default ${DEFAULT_PORT})
  --host <name>          interface to listen on (default 127.0.0.1; 0.0.0.0 for a phone on the LAN)
  --app <kind:appid[:secret]>
                         register an app; kind is mini (mini-program), web (website QR login) or oa
                         (official account); repeat for several. The secret is generated when left out.
                         Without --app: mini ${DEFAULT_MINI_APPID}, web …02 and oa …03.
  --open-platform <id>   open platform account every app is bound to, so one person has one unionid
                         across them; "none" = unbound, no unionid (default ${DEFAULT_OPEN_PLATFORM})
  --domain <host>        授权回调域 / 网页授权域名 of the web and oa apps: a redirect_uri on another host
                         gets WeChat's error page; repeat for several (default: localhost, 127.0.0.1,
                         --host unless 0.0.0.0 or ::, and --public-url's host)
  --oa-type <type>       公众号类型: ${OA_ACCOUNT_TYPES.join(' | ')} (default verified-service;
                         the other two answer qrcode/create with 48001 as WeChat does)
  --seed <text>          keep openids/unionids stable across restarts (default: random)
  --public-url <url>     the simulator as browsers reach it (printed as WECHAT_OPEN_BASE), e.g. a LAN address
  --latency-ms <n>       delay every WeChat answer by n ms (0-60000), as a real network + WeChat would
                         (benchmarks); never the /__sim control endpoints (default 0 = off; env WECHAT_SIM_LATENCY_MS)
  --json                 print one JSON line {url, bases, env, apps, latencyMs} instead of the text below
                         (a busy port: {"error":"EADDRINUSE","port":n}, exit code 1)
  -v, --version          print the version
  -h, --help             print this help

It prints the settings your server needs / 启动后打印服务端需要的配置:
  WECHAT_API_BASE, WECHAT_OPEN_BASE, WECHAT_MP_BASE (options wechat.apiBase / openBase / mpBase)
  and each app's AppID and AppSecret.
Docs: https://www.npmjs.com/package/wlu-wxlogin-sim (readme.md)`;

export interface CliApp extends SimApp {
  kind: Kind;
}

export interface CliOptions {
  help: boolean;
  version: boolean;
  json: boolean;
  port: number;
  host: string;
  apps: CliApp[];
  seed: string | undefined;
  publicUrl: string | null;
  /** ms every WeChat answer is delayed (0 = off) */
  latencyMs: number;
}

function secret(): string {
  return randomBytes(16).toString('hex');
}

function parseApp(spec: string): { kind: Kind; appid: string; secret: string } {
  const [kind, appid, given, ...rest] = spec.split(':');
  // errors name the app, never its secret
  const shown = [kind, appid, ...(given === undefined ? [] : ['<secret>']), ...rest.map(() => '…')].join(':');
  if (!KINDS.includes(kind as Kind) || !appid || rest.length) throw new UsageError(`--app "${shown}": expected <kind:appid[:secret]> with kind mini, web or oa`);
  if (!APPID.test(appid)) throw new UsageError(`--app "${shown}": an AppID is "wx" and 16 hex digits, e.g. ${DEFAULT_MINI_APPID}`);
  if (given !== undefined && !SECRET.test(given)) throw new UsageError(`--app "${shown}": the secret may only hold letters, digits, "_" and "-" (1-128)`);
  return { kind: kind as Kind, appid, secret: given ?? secret() };
}

/**
 * Reads the command line (without node and the script) and the environment variables it honours
 * (WECHAT_SIM_LATENCY_MS; a flag wins). Throws UsageError for anything it cannot run.
 */
export function parseCli(argv: string[], env: Record<string, string | undefined> = {}): CliOptions {
  let values: ReturnType<typeof parse>['values'];
  try {
    values = parse(argv).values;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const port = values.port === undefined ? DEFAULT_PORT : Number(values.port);
  if (!/^\d+$/.test(values.port ?? '0') || !Number.isInteger(port) || port > 65535) throw new UsageError(`--port "${values.port}": expected a port number 0-65535`);
  const host = values.host ?? '127.0.0.1';
  const oaType = values['oa-type'];
  if (oaType !== undefined && !(OA_ACCOUNT_TYPES as readonly string[]).includes(oaType)) throw new UsageError(`--oa-type "${oaType}": expected one of ${OA_ACCOUNT_TYPES.join(', ')}`);
  const openPlatform = values['open-platform'] ?? DEFAULT_OPEN_PLATFORM;
  if (!openPlatform) throw new UsageError('--open-platform: expected an id, or "none"');
  const openPlatformId = openPlatform === 'none' ? null : openPlatform;
  let publicUrl: string | null = null;
  if (values['public-url'] !== undefined) {
    try {
      const url = new URL(values['public-url']);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error();
      publicUrl = url.origin;
    } catch {
      throw new UsageError(`--public-url "${values['public-url']}": expected an http(s) URL such as http://192.168.1.20:3100`);
    }
  }
  const latencySource = values['latency-ms'] !== undefined ? '--latency-ms' : 'WECHAT_SIM_LATENCY_MS';
  const latencyText = values['latency-ms'] ?? (env.WECHAT_SIM_LATENCY_MS?.trim() || '0');
  let latencyMs: number;
  try {
    // digits only: Number() would also read "", " 5", "1e3" and "0x10"
    latencyMs = checkLatencyMs(/^\d+$/.test(latencyText) ? Number(latencyText) : NaN);
  } catch {
    throw new UsageError(`${latencySource} "${latencyText}": expected a whole number of milliseconds 0-60000`);
  }
  const domains = values.domain?.length ? values.domain : defaultDomains(host, publicUrl);
  const specs = values.app?.length
    ? values.app.map(parseApp)
    : [
        { kind: 'mini' as const, appid: DEFAULT_MINI_APPID, secret: secret() },
        { kind: 'web' as const, appid: derivedAppid(DEFAULT_MINI_APPID, 1), secret: secret() },
        { kind: 'oa' as const, appid: derivedAppid(DEFAULT_MINI_APPID, 2), secret: secret() },
      ];
  const seen = new Set<string>();
  for (const { appid } of specs) {
    if (seen.has(appid)) throw new UsageError(`--app: ${appid} is listed twice (every app needs its own AppID)`);
    seen.add(appid);
  }
  if (oaType !== undefined && !specs.some((s) => s.kind === 'oa')) throw new UsageError('--oa-type: no official account (--app oa:…) is registered');
  const apps: CliApp[] = specs.map((s) => ({
    ...s,
    openPlatformId,
    ...(s.kind === 'mini' ? {} : { domains: [...domains] }),
    ...(s.kind === 'oa' && oaType ? { oaType: oaType as OaAccountType } : {}),
  }));
  return { help: !!values.help, version: !!values.version, json: !!values.json, port, host, apps, seed: values.seed, publicUrl, latencyMs };
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      app: { type: 'string', multiple: true },
      'open-platform': { type: 'string' },
      domain: { type: 'string', multiple: true },
      'oa-type': { type: 'string' },
      seed: { type: 'string' },
      'public-url': { type: 'string' },
      'latency-ms': { type: 'string' },
      json: { type: 'boolean' },
      version: { type: 'boolean', short: 'v' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

const ENV_PREFIX: Record<Kind, string> = { mini: 'WECHAT_MINI', web: 'WECHAT_WEB', oa: 'WECHAT_OA' };
const LABEL: Record<Kind, string> = { mini: 'mini-program 小程序', web: 'website 网站应用', oa: 'official account 公众号' };

/** The environment a server (this repo's optionsFromEnv) needs to use the simulator and its apps. */
export function serverEnv(bases: { apiBase: string; openBase: string; mpBase: string }, apps: CliApp[]): Record<string, string> {
  const env: Record<string, string> = { WECHAT_API_BASE: bases.apiBase, WECHAT_OPEN_BASE: bases.openBase, WECHAT_MP_BASE: bases.mpBase };
  for (const kind of KINDS) {
    const app = apps.find((a) => a.kind === kind);
    if (app) Object.assign(env, { [`${ENV_PREFIX[kind]}_APPID`]: app.appid, [`${ENV_PREFIX[kind]}_SECRET`]: app.secret });
  }
  return env;
}

/** The text the CLI prints once it listens. */
export function banner(url: string, bases: { apiBase: string; openBase: string; mpBase: string }, apps: CliApp[], latencyMs = 0): string {
  const mini = apps.find((a) => a.kind === 'mini');
  const lines = [
    `wlu-wxlogin-sim — WeChat simulator / 微信模拟器 (development only, never production / 仅限开发，切勿用于生产)`,
    `  listening / 监听      ${url}`,
    ...(latencyMs ? [`  latency / 延迟        every WeChat answer +${latencyMs} ms (not /__sim) / 每个微信接口应答延迟 ${latencyMs} 毫秒`] : []),
    ``,
    `Point your server at it / 服务端配置 (env, or the server options in brackets):`,
    `  WECHAT_API_BASE=${bases.apiBase}     (wechat.apiBase)`,
    `  WECHAT_OPEN_BASE=${bases.openBase}    (wechat.openBase)`,
    `  WECHAT_MP_BASE=${bases.mpBase}      (wechat.mpBase)`,
    ``,
    `Apps it accepts / 可用的应用 (AppID + AppSecret):`,
    ...apps.map(
      (a) =>
        `  ${LABEL[a.kind].padEnd(24)} ${ENV_PREFIX[a.kind]}_APPID=${a.appid} ${ENV_PREFIX[a.kind]}_SECRET=${a.secret}` +
        (a.openPlatformId ? `  (open platform ${a.openPlatformId})` : '') +
        (a.kind === 'oa' ? `  [${a.oaType ?? 'verified-service'}]` : ''),
    ),
  ];
  if (apps.some((a) => a.kind !== 'mini')) lines.push(`  redirect domains / 授权回调域: ${(apps.find((a) => a.domains)?.domains ?? []).join(', ')}`);
  if (mini)
    lines.push(
      ``,
      `A mini-program login code (what wx.login returns on a phone) / 获取小程序登录 code:`,
      `  curl -s -X POST ${url}/__sim/mini/code -H 'content-type: application/json' -d '{"appid":"${mini.appid}","user":"alice"}'`,
    );
  lines.push(`Open a QR code as the phone / 用模拟手机打开二维码: ${url}/__sim/phone?user=alice&qr=<QR content>`, `Stop: Ctrl+C`);
  return lines.join('\n');
}
