import { parseSealKeys, SealKeyError } from './crypto/seal.js';
import { parseTrustedProxies, type ClientAddressSettings } from './http/client-address.js';
import { DEFAULT_H5_LOGIN_PAGE, normalizeBasePath } from './http/urls.js';
import type { Door } from './doors/door.js';
import type { MiniProgramDoor } from './doors/mini.js';
import type { OfficialAccountDoor } from './doors/oa.js';
import type { Storage } from './store/types.js';
import type { UserHooks } from './users/hooks.js';

/**
 * Configuration comes in as typed options (`ServerOptions`), resolved here into `Config`; the host
 * maps its environment to options (env.ts `optionsFromEnv`). `checkConfig` lists everything wrong
 * at once; in production (Vercel production or NODE_ENV=production) the app refuses to start with it.
 */
export const WECHAT_API_HOSTS = ['api.weixin.qq.com', 'api2.weixin.qq.com', 'sh.api.weixin.qq.com', 'sz.api.weixin.qq.com', 'hk.api.weixin.qq.com'];
export const DEFAULT_WECHAT_BASE = 'https://api.weixin.qq.com';
export const DEFAULT_WECHAT_FAILOVER = 'https://api2.weixin.qq.com';
/** Browser-facing host of WeChat's website-login (qrconnect) page. */
export const WECHAT_OPEN_BASE = 'https://open.weixin.qq.com';

/** Where this process runs: Vercel production / NODE_ENV=production, a Vercel preview, or anything else. */
export type DeploymentKind = 'production' | 'preview' | 'development';

export interface Config {
  production: boolean;
  deployment: DeploymentKind;
  /** preview only: ALLOW_EPHEMERAL_PREVIEW=1 lets a preview run on the /tmp embedded store with a throwaway seal key */
  ephemeralPreview: boolean;
  /** the listed login doors (ServerOptions.doors) */
  doors: readonly Door[];
  /** the first mini-program door's app ('' when none): /me/phone, the nickname check, doctor */
  mini: { appid: string; secret: string };
  /** website app (open platform) for the QR login; null when WECHAT_WEB_APPID is not set (the flow is optional) */
  web: { appid: string; secret: string } | null;
  /** official account (公众号) for web authorization inside WeChat; null when WECHAT_OA_APPID is not set (optional) */
  oa: { appid: string; secret: string } | null;
  /**
   * The official account's server URL (服务器配置): WECHAT_OA_TOKEN, WECHAT_OA_ENCODING_AES_KEY
   * (+ WECHAT_OA_ENCODING_AES_KEY_PREVIOUS during a rotation), WECHAT_OA_MESSAGE_MODE
   * plain | compatible | safe (default safe when a key is set, else plain). null when no Token.
   */
  oaServer: { token: string; encodingAesKeys: string[]; mode: 'plain' | 'compatible' | 'safe' | string } | null;
  /** host of showqrcode (WECHAT_MP_BASE, default https://mp.weixin.qq.com) */
  mpBaseUrl: string;
  /** where browsers are sent for the QR page (WECHAT_OPEN_BASE) */
  openBaseUrl: string;
  /** the API's public origin for redirect_uri (PUBLIC_BASE_URL); null = derived from the request */
  publicBaseUrl: string | null;
  /** where the handler is mounted ('' = the root): every route and every URL built follows it */
  basePath: string;
  /** the H5 login page browsers return to, '{query}' replaced */
  h5LoginPage: string;
  wechatBaseUrls: string[];
  wechatTimeoutMs: number;
  /** optional fixed-egress-IP relay for access-token fetches (WeChat IP whitelist) */
  wechatTokenBaseUrl: string | null;
  /** WECHAT_TOKEN_RELAY_KEY: sent to the relay as `x-relay-key` so it serves only this API */
  wechatTokenRelayKey: string | null;
  mongodbUri: string | null;
  mongodbDb: string;
  /** ServerOptions.storage: the host's own Storage (e.g. mongoStorage({ db })); wins over mongodbUri */
  storage: Storage | null;
  hooks: UserHooks | null;
  dataDir: string;
  sealKeys: string | null;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  /**
   * per minute (0 = off): requests per client address on anonymous and WeChat-spending endpoints;
   * WeChat calls per AppID made for requests; a PC's own status requests per login attempt
   */
  rateLimit: { perAddress: number; perAppid: number; perPcAttempt: number };
  /** where the client's address comes from: CLIENT_ADDRESS_HEADER / _HOPS / _TRUSTED_PROXIES (http/client-address.ts) */
  clientAddress: ClientAddressSettings;
  /** CLIENT_ADDRESS_TRUSTED_PROXIES entries that are neither an address nor a CIDR range */
  clientAddressInvalid: string[];
  /** CLIENT_ADDRESS_HEADER as given (lower-case), checked by checkConfig */
  clientAddressHeader: string | null;
  /** every request is answered within this (503 request_timeout), inside Vercel's maxDuration */
  requestDeadlineMs: number;
  /** WECHAT_MP_VERIFY: the official account's MP_verify_<token>.txt tokens, served at the site root */
  mpVerify: string[];
  /** the product's name on the phone's PC-login confirmation page (APP_NAME) */
  appName: string;
  /** PC login status: one Server-Sent-Events stream's length (PC_EVENTS_STREAM_MS, ≤ 25 s, default inside the request deadline) */
  pcEventsStreamMs: number;
  /** how long a PC login QR code (attempt) lives (PC_ATTEMPT_TTL_MS, default 3 minutes) */
  pcAttemptTtlMs: number;
  /** entries of WECHAT_MP_VERIFY that are neither a file name nor a token */
  mpVerifyInvalid: string[];
}

export type OaMessageMode = 'plain' | 'compatible' | 'safe';
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** One WeChat app's credentials: its AppID and AppSecret (a secret: the host reads it from wherever it keeps secrets). */
export interface AppCredentials {
  appid: string;
  secret: string;
}

/**
 * Everything the server is built from (createServices, through createWechatLogin). The wiring reads no
 * environment variable: secrets and settings come in here, and a host maps its own environment
 * with `optionsFromEnv` (env.ts, the one place the variable names live). Numbers out of range are
 * clamped; a wrong value is never thrown at construction outside production — `checkConfig` names
 * it (the production guard, `npm run doctor`, the 503 server_misconfigured answer). The problems
 * name the environment variable that sets each option, as docs/DEPLOY.md lists them.
 */
export interface ServerOptions {
  /**
   * Where this server runs. Production and previews are held to every check of `checkConfig` and
   * refuse to start with a problem; development starts with anything (the simulator).
   * Env: NODE_ENV=production or VERCEL_ENV=production → production; VERCEL_ENV=preview → preview.
   * @default 'development'
   */
  environment?: DeploymentKind | undefined;
  /**
   * A preview may run on a throwaway embedded store with a random seal key (users and sessions
   * vanish with the instance); said loudly in /api/auth/health and the logs. Env: ALLOW_EPHEMERAL_PREVIEW=1.
   * @default false
   */
  allowEphemeralPreview?: boolean | undefined;
  /**
   * The platform the host runs on. 'vercel': the client address comes from x-forwarded-for (Vercel
   * overwrites it) unless `clientAddress.header` says otherwise, and the embedded store lives in
   * /tmp/wechat-login-data (the only writable folder). Env: VERCEL set → 'vercel'.
   * @default 'node'
   */
  platform?: 'vercel' | 'node' | undefined;
  /**
   * The login doors this deployment offers, each with its own app credentials (doors/): e.g.
   * `[miniProgram({ appid, secret }), websiteQr({ appid, secret }), officialAccount({ appid, secret, push }),
   * pcLogin({ via: oa }), followToLogin({ via: oa }), webviewTicket({ from: mini })]`. Several
   * mini-programs of one open-platform account each get a `name` (routes <basePath>/<name>/…) and
   * share users through unionid. Routes, rate limits, the 405 table, GET <basePath>/doors and the
   * production checks come from this list. Env: optionsFromEnv builds it from WECHAT_MINI_*,
   * WECHAT_WEB_*, WECHAT_OA_* (a door whose AppID is unset is listed but off: <door>_login_not_configured).
   */
  doors: readonly Door[];
  /**
   * The API's public https origin (no path), used for every redirect_uri and reply link; null: the
   * request's own origin (development only — refused in production when a browser door is on).
   * Env: PUBLIC_BASE_URL. @default null
   */
  publicBaseUrl?: string | null | undefined;
  /**
   * Where the handler is mounted: every route is relative to it, and every URL the product builds
   * (OAuth redirect_uri, the follow reply link, PC scan URLs, avatar paths, the phone pages' links)
   * follows it. Register `<publicBaseUrl><basePath>/oa/push` as the official account's server URL.
   * @default '/api/auth'
   */
  basePath?: string | undefined;
  /**
   * The H5 login page browsers return to after WeChat's redirect; '{query}' is replaced by the
   * result (`web_login=<state>`, `oa_login_error=<code>`, `next=`). History-router hosts keep the
   * trailing '#' (it drops WeChat's `#wechat_redirect`); hash-router hosts write '/#/uni_modules/wlu-wxlogin/pages/login/index?{query}'.
   * @default '/uni_modules/wlu-wxlogin/pages/login/index?{query}#' (the wlu-wxlogin module's login page, history router)
   */
  h5LoginPage?: string | undefined;
  /** Where WeChat is: its real hosts in production (checked), the simulator in development. */
  wechat?: {
    /** Server API base (jscode2session, stable_token, …). Env: WECHAT_API_BASE. @default 'https://api.weixin.qq.com' */
    apiBase?: string | undefined;
    /**
     * Access points tried, in order, when the base cannot be reached; [] = none. Env: WECHAT_API_FAILOVER
     * (comma-separated). @default WeChat's general access points other than the base (none for a non-WeChat base)
     */
    failover?: readonly string[] | undefined;
    /** Each WeChat call's time limit, 500–15000 ms. Env: WECHAT_TIMEOUT_MS. @default 5000 */
    timeoutMs?: number | undefined;
    /**
     * A fixed-egress-IP relay for access-token fetches (WeChat's IP whitelist) and the key it requires
     * (≥ 32 characters, sent as x-relay-key). Env: WECHAT_TOKEN_BASE, WECHAT_TOKEN_RELAY_KEY. @default null (direct)
     */
    tokenRelay?: { url: string; key?: string | null | undefined } | null | undefined;
    /** Browser-facing host of the qrconnect / oauth2 pages. Env: WECHAT_OPEN_BASE. @default 'https://open.weixin.qq.com' */
    openBase?: string | undefined;
    /** Host of showqrcode (follow-to-login QR images). Env: WECHAT_MP_BASE. @default 'https://mp.weixin.qq.com' */
    mpBase?: string | undefined;
  } | undefined;
  /**
   * MongoDB (required in production); null/absent: the embedded store in `dataDir`.
   * Env: MONGODB_URI, MONGODB_DB. @default null; dbName 'wechat_login'
   */
  mongodb?: { uri: string; dbName?: string | undefined } | null | undefined;
  /**
   * The storage ports (store/types.ts Storage), e.g. `mongoStorage({ db })` from
   * `wlu-wxlogin-server/mongodb` with the host's own MongoDB `Db` / `MongoClient` and a collection
   * prefix. Wins over `mongodb`. A host-given client is never closed by the server.
   * @default null: MongoDB from `mongodb` (collections without a prefix), else the embedded store in `dataDir`
   */
  storage?: Storage | null | undefined;
  /**
   * For a host that keeps its own user table (joined on `user.id`): called after the change is
   * stored; a hook that throws is logged and never undoes the login. @default null
   */
  hooks?: UserHooks | null | undefined;
  /** The embedded store's folder (and the development seal key's). Env: DATA_DIR. @default '.data' ('/tmp/wechat-login-data' on Vercel) */
  dataDir?: string | undefined;
  /**
   * Keys sealing session_key and WeChat grants at rest, `kid:base64(32 bytes)`, newest first
   * (required in production). Development generates one and keeps it in `dataDir`.
   * Env: SESSION_KEY_ENCRYPTION_KEYS (comma-separated). @default null
   */
  sealKeys?: string | readonly string[] | null | undefined;
  /** The lowest level written to the log. Env: LOG_LEVEL. @default 'info' */
  logLevel?: LogLevel | undefined;
  /**
   * Per minute, 0 = off: requests per client address on anonymous and WeChat-spending endpoints;
   * WeChat calls per AppID made for requests; a PC's own status requests per login attempt.
   * Env: RATE_LIMIT_PER_ADDRESS, RATE_LIMIT_PER_APPID, RATE_LIMIT_PER_PC_ATTEMPT.
   * @default { perAddress: 120, perAppid: 6000, perPcAttempt: 60 }
   */
  rateLimit?: { perAddress?: number | undefined; perAppid?: number | undefined; perPcAttempt?: number | undefined } | undefined;
  /**
   * Where the client's address comes from (rate limits, the PC confirmation page): 'socket', or the
   * header a proxy of this deployment sets; how many proxies append to it (1–10); and the proxies
   * believed (addresses or CIDR ranges). Env: CLIENT_ADDRESS_HEADER, CLIENT_ADDRESS_HOPS, CLIENT_ADDRESS_TRUSTED_PROXIES.
   * @default { header: 'socket' (x-forwarded-for on Vercel), hops: 1, trustedProxies: [] }
   */
  clientAddress?: { header?: string | null | undefined; hops?: number | undefined; trustedProxies?: string | readonly string[] | undefined } | undefined;
  /** Every request is answered within this (503 request_timeout), 1000–60000 ms. Env: REQUEST_DEADLINE_MS. @default 9000 */
  requestDeadlineMs?: number | undefined;
  /** The official account's MP_verify_<token>.txt files (names or contents), served at the site root. Env: WECHAT_MP_VERIFY. @default [] */
  mpVerify?: string | readonly string[] | undefined;
  /** The product's name on the phone's PC-login confirmation page (≤ 40 characters). Env: APP_NAME. @default '微信登录' */
  appName?: string | undefined;
  /** PC login by phone. */
  pc?: {
    /** One Server-Sent-Events status stream's length, 1000–25000 ms. Env: PC_EVENTS_STREAM_MS. @default 8000 */
    eventsStreamMs?: number | undefined;
    /** How long a PC login QR code (attempt) lives, 2000–600000 ms. Env: PC_ATTEMPT_TTL_MS. @default 180000 */
    attemptTtlMs?: number | undefined;
  } | undefined;
}

/**
 * The failover chain when WECHAT_API_FAILOVER is not set: for any of WeChat's own access points
 * (including hk.api.weixin.qq.com) the general ones follow, so choosing a regional base never
 * silently removes the failover. A non-WeChat base (the simulator) gets none.
 */
export function defaultFailover(base: string): string {
  let host = '';
  try {
    host = new URL(base).hostname;
  } catch {}
  if (!WECHAT_API_HOSTS.includes(host)) return '';
  return [DEFAULT_WECHAT_BASE, DEFAULT_WECHAT_FAILOVER].filter((url) => new URL(url).hostname !== host).join(',');
}

/** The options with every default applied and every number clamped: what the wiring runs on. */
export function resolveConfig(options: ServerOptions): Config {
  const wechat = options.wechat ?? {};
  const base = wechat.apiBase?.trim() || DEFAULT_WECHAT_BASE;
  const failover = wechat.failover === undefined ? defaultFailover(base).split(',') : [...wechat.failover];
  const deployment = options.environment ?? 'development';
  const level = options.logLevel;
  const header = options.clientAddress?.header?.trim().toLowerCase() || null;
  const proxies = parseTrustedProxies(list(options.clientAddress?.trustedProxies));
  const verify = parseVerifyTokens(list(options.mpVerify));
  return {
    production: deployment === 'production',
    deployment,
    ephemeralPreview: deployment === 'preview' && options.allowEphemeralPreview === true,
    doors: [...options.doors],
    mini: options.doors.find((d): d is MiniProgramDoor => d.kind === 'mini')?.app ?? { appid: '', secret: '' },
    web: options.doors.find((d) => d.kind === 'web')?.app ?? null,
    oa: firstOa(options.doors)?.app ?? null,
    oaServer: firstOa(options.doors)?.push ?? null,
    mpBaseUrl: (wechat.mpBase?.trim() || 'https://mp.weixin.qq.com').replace(/\/+$/, ''),
    openBaseUrl: (wechat.openBase?.trim() || WECHAT_OPEN_BASE).replace(/\/+$/, ''),
    publicBaseUrl: options.publicBaseUrl?.trim().replace(/\/+$/, '') || null,
    basePath: normalizeBasePath(options.basePath),
    h5LoginPage: options.h5LoginPage?.trim() || DEFAULT_H5_LOGIN_PAGE,
    wechatBaseUrls: [base, ...failover.map((s) => s.trim()).filter(Boolean)],
    wechatTokenBaseUrl: wechat.tokenRelay?.url.trim() || null,
    wechatTokenRelayKey: wechat.tokenRelay?.key?.trim() || null,
    wechatTimeoutMs: clampInt(wechat.timeoutMs, 5000, 500, 15000),
    mongodbUri: options.mongodb?.uri.trim() || null,
    mongodbDb: options.mongodb?.dbName?.trim() || 'wechat_login',
    storage: options.storage ?? null,
    hooks: options.hooks ?? null,
    // On Vercel only /tmp is writable (preview deployments without MONGODB_URI; production refuses).
    dataDir: options.dataDir?.trim() || (options.platform === 'vercel' ? '/tmp/wechat-login-data' : '.data'),
    sealKeys: list(options.sealKeys ?? undefined).trim() || null,
    logLevel: level && ['debug', 'info', 'warn', 'error'].includes(level) ? level : 'info',
    rateLimit: {
      perAddress: clampInt(options.rateLimit?.perAddress, 120, 0, 1_000_000),
      perAppid: clampInt(options.rateLimit?.perAppid, 6000, 0, 10_000_000),
      perPcAttempt: clampInt(options.rateLimit?.perPcAttempt, 60, 0, 100_000),
    },
    clientAddress: {
      source: addressSource(header, options.platform),
      hops: clampInt(options.clientAddress?.hops, 1, 1, 10),
      trustedProxies: proxies.ranges,
    },
    clientAddressInvalid: proxies.invalid,
    clientAddressHeader: header,
    requestDeadlineMs: clampInt(options.requestDeadlineMs, 9000, 1000, 60_000),
    mpVerify: verify.tokens,
    mpVerifyInvalid: verify.invalid,
    appName: options.appName?.trim().slice(0, 40) || '微信登录',
    pcEventsStreamMs: clampInt(options.pc?.eventsStreamMs, 8000, 1000, 25_000),
    pcAttemptTtlMs: clampInt(options.pc?.attemptTtlMs, 180_000, 2000, 600_000),
  };
}

export interface ConfigCheck {
  problems: string[];
  notes: string[];
}

/** The production guard and `npm run doctor` share these checks. */
export function checkConfig(config: Config): ConfigCheck {
  const problems: string[] = [];
  const notes: string[] = [];
  // each door's own slice (doors/): its app's AppID and AppSecret, redirect_uri's origin, the server URL
  if (!config.doors.length) problems.push('doors: no login door is listed (e.g. doors: [miniProgram({ appid, secret })])');
  const names = new Set<string>();
  for (const door of config.doors) {
    if (names.has(door.name)) problems.push(`doors: "${door.name}" is listed twice (each door needs its own name: miniProgram({ name: 'mini-shop', ... }))`);
    names.add(door.name);
    const slice = door.check({ deployment: config.deployment, publicBaseUrl: config.publicBaseUrl, openBaseUrl: config.openBaseUrl });
    problems.push(...slice.problems);
    notes.push(...slice.notes);
  }
  for (const url of config.wechatBaseUrls) {
    let host = '';
    try {
      const parsed = new URL(url);
      host = parsed.protocol === 'https:' ? parsed.hostname : '';
    } catch {}
    if (!WECHAT_API_HOSTS.includes(host)) problems.push(`WeChat API base "${url}" is not one of WeChat's HTTPS access points (${WECHAT_API_HOSTS.join(', ')}) — is the simulator still configured?`);
  }
  if (config.wechatBaseUrls.length === 1 && defaultFailover(config.wechatBaseUrls[0]!)) {
    notes.push(`WECHAT_API_FAILOVER is empty: when ${config.wechatBaseUrls[0]} cannot be reached no other WeChat access point is tried`);
  }
  if (config.wechatTokenBaseUrl && !config.wechatTokenBaseUrl.startsWith('https://')) problems.push('WECHAT_TOKEN_BASE must be an https:// relay with a fixed egress IP');
  if (config.wechatTokenBaseUrl && (config.wechatTokenRelayKey ?? '').length < 32) {
    problems.push('WECHAT_TOKEN_BASE is set but WECHAT_TOKEN_RELAY_KEY is missing or shorter than 32 characters: the relay must refuse callers other than this API (docs/DEPLOY.md, "relay")');
  }
  if (!config.mongodbUri && (!config.storage || config.storage.kind === 'embedded')) problems.push('MONGODB_URI is not set: the embedded store keeps data on local disk, which a serverless function does not have');
  if (!config.sealKeys) problems.push('SESSION_KEY_ENCRYPTION_KEYS is not set (kid:base64 32-byte key) — session_key must be encrypted at rest');
  else {
    // The very parser the server runs at cold start: doctor and production judge a key alike.
    try {
      parseSealKeys(config.sealKeys);
    } catch (error) {
      if (!(error instanceof SealKeyError)) throw error;
      problems.push(`SESSION_KEY_ENCRYPTION_KEYS: ${error.message}`);
    }
  }
  if ((config.web || config.oa) && config.openBaseUrl !== WECHAT_OPEN_BASE) {
    problems.push(`WECHAT_OPEN_BASE "${config.openBaseUrl}" is not ${WECHAT_OPEN_BASE} — is the simulator still configured?`);
  }
  if (config.basePath && !/^(\/[A-Za-z0-9._~-]+)+$/.test(config.basePath)) problems.push(`basePath "${config.basePath}" must be a path like /api/auth (letters, digits, . _ ~ -)`);
  if (!config.h5LoginPage.includes('{query}')) problems.push(`h5LoginPage "${config.h5LoginPage}" must contain {query} (where the login result goes)`);
  if (config.publicBaseUrl && !/^https:\/\/[^/]+$/.test(config.publicBaseUrl)) problems.push('PUBLIC_BASE_URL must be an https:// origin without a path (e.g. https://api.example.com)');
  if (config.rateLimit.perAddress === 0 || config.rateLimit.perAppid === 0 || config.rateLimit.perPcAttempt === 0) notes.push('a rate limit is off (RATE_LIMIT_PER_ADDRESS / RATE_LIMIT_PER_APPID / RATE_LIMIT_PER_PC_ATTEMPT = 0)');
  const header = config.clientAddressHeader;
  if (header && header !== 'socket' && header !== 'none' && !HEADER_NAME.test(header)) problems.push(`CLIENT_ADDRESS_HEADER must be socket or a header name (x-forwarded-for, x-real-ip, or the header your CDN sets)`);
  if (config.clientAddressHeader && config.clientAddress.source !== 'socket' && !config.clientAddress.trustedProxies.length && config.deployment !== 'development') {
    notes.push(`CLIENT_ADDRESS_HEADER=${config.clientAddress.source} is believed from any connection: the origin must be reachable only through your proxy (firewall), or set CLIENT_ADDRESS_TRUSTED_PROXIES (docs/DEPLOY.md)`);
  }
  if (config.clientAddressInvalid.length) problems.push(`CLIENT_ADDRESS_TRUSTED_PROXIES: ${config.clientAddressInvalid.join(', ')} is neither an IP address nor a CIDR range (10.0.0.0/8, 2001:db8::/32)`);
  if (config.mpVerifyInvalid.length) problems.push(`WECHAT_MP_VERIFY: ${config.mpVerifyInvalid.join(', ')} is neither MP_verify_<letters/digits>.txt nor its content`);
  if (config.wechatTimeoutMs > 8000) notes.push('WECHAT_TIMEOUT_MS above 8 s leaves little of the function time limit for the rest of the request');
  return { problems, notes };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[], where = 'in production') {
    super(`Refusing to start ${where}:\n${problems.map((p) => `  - ${p}`).join('\n')}\nRun \`npm run doctor\` to see every check.`);
    this.name = 'ConfigError';
  }
}

/** What ALLOW_EPHEMERAL_PREVIEW=1 tolerates in a preview (said loudly instead: health, logs, build check). */
const EPHEMERAL_OK = /^(MONGODB_URI|SESSION_KEY_ENCRYPTION_KEYS) is not set/;

/**
 * The problems that stop this process from starting. Production and previews are held to the same
 * checks: a preview is refused like production unless it opts into an ephemeral store
 * (ALLOW_EPHEMERAL_PREVIEW=1), and then it says so. Development starts with anything.
 */
export function startupProblems(config: Config): string[] {
  if (config.deployment === 'development') return [];
  const { problems } = checkConfig(config);
  if (!config.ephemeralPreview) {
    if (config.deployment === 'preview' && problems.some((p) => EPHEMERAL_OK.test(p))) {
      problems.push('a preview without MONGODB_URI and SESSION_KEY_ENCRYPTION_KEYS is refused like production; set them (a staging database), or set ALLOW_EPHEMERAL_PREVIEW=1 to run this preview on a throwaway /tmp store that loses every user and session');
    }
    return problems;
  }
  return problems.filter((p) => !EPHEMERAL_OK.test(p));
}

/** What the running deployment stands on, as /api/auth/health and the first log line tell it. */
export function describeDeployment(config: Config): { environment: DeploymentKind; ephemeral: boolean } {
  return { environment: config.deployment, ephemeral: config.ephemeralPreview && !config.mongodbUri && !config.storage };
}

export function assertProductionReady(config: Config): void {
  const problems = startupProblems(config);
  if (problems.length) throw new ConfigError(problems, config.deployment === 'preview' ? 'a preview deployment (VERCEL_ENV=preview)' : 'in production');
}

/** WECHAT_MP_VERIFY: comma-separated file names (`MP_verify_abc.txt`) or their contents (`abc`). */
export function parseVerifyTokens(value: string | undefined): { tokens: string[]; invalid: string[] } {
  const tokens: string[] = [];
  const invalid: string[] = [];
  for (const item of (value ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
    const token = /^MP_verify_(.+)\.txt$/.exec(item)?.[1] ?? item;
    if (/^[A-Za-z0-9]{1,64}$/.test(token)) tokens.push(token);
    else invalid.push(item);
  }
  return { tokens, invalid };
}

/**
 * Forwarding headers are client-controlled unless the deployment's proxy sets them: trusted only
 * when CLIENT_ADDRESS_HEADER names one, or on Vercel, which overwrites x-forwarded-for itself with
 * the client's address (one entry: CLIENT_ADDRESS_HOPS 1, the default).
 */
const HEADER_NAME = /^[a-z0-9][a-z0-9-]{0,63}$/;

function addressSource(header: string | null, platform: ServerOptions['platform']): ClientAddressSettings['source'] {
  if (header === 'socket' || header === 'none') return 'socket';
  // a header name (x-forwarded-for, x-real-ip, a CDN's own); anything else is refused by checkConfig
  if (header) return HEADER_NAME.test(header) ? header : 'socket';
  return platform === 'vercel' ? 'x-forwarded-for' : 'socket';
}

function firstOa(doors: readonly Door[]): OfficialAccountDoor | undefined {
  return doors.find((d): d is OfficialAccountDoor => d.kind === 'oa');
}

/** A list option given as one comma-separated string or as an array. */
function list(value: string | readonly string[] | undefined): string {
  return typeof value === 'string' ? value : (value ?? []).join(',');
}

function clampInt(value: number | undefined, fallback: number, min: number, max: number): number {
  return value !== undefined && Number.isFinite(value) ? Math.min(max, Math.max(min, Math.trunc(value))) : fallback;
}
