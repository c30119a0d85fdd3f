import { resolveConfig, type Config, type DeploymentKind, type LogLevel, type OaMessageMode, type ServerOptions } from './config.js';
import { followToLogin, miniProgram, officialAccount, pcLogin, webviewTicket, websiteQr } from './doors/index.js';

/**
 * The host's environment → `ServerOptions`: the one place that knows the environment variable
 * names (docs/DEPLOY.md lists them). The wiring (main.ts) reads no environment; the repo's own hosts
 * — the Vercel functions (vercel.ts), `npm start` (scripts/serve.ts), `npm run dev`, the bench
 * servers and the tests — call `createServices(optionsFromEnv(env))`. Another host may build the
 * options itself, from its own settings and secret store.
 */
export type Env = Record<string, string | undefined>;

export function isProduction(env: Env): boolean {
  return env.VERCEL_ENV === 'production' || env.NODE_ENV === 'production';
}

export function deploymentKind(env: Env): DeploymentKind {
  if (isProduction(env)) return 'production';
  return env.VERCEL_ENV === 'preview' ? 'preview' : 'development';
}

/**
 * The doors today's variables describe: the mini-program (always listed: production requires it),
 * the website app and the official account (listed even when unset, so their endpoints answer
 * <door>_login_not_configured), PC login through the official account, follow-to-login when the
 * account's server URL has a Token, and the web-view ticket from the mini-program.
 */
export function doorsFromEnv(env: Env): ServerOptions['doors'] {
  const oaToken = text(env.WECHAT_OA_TOKEN);
  const mini = miniProgram({ appid: env.WECHAT_MINI_APPID ?? '', secret: env.WECHAT_MINI_SECRET ?? '' });
  const oa = officialAccount({
    appid: env.WECHAT_OA_APPID ?? '',
    secret: env.WECHAT_OA_SECRET ?? '',
    push: oaToken
      ? {
          token: oaToken,
          encodingAesKeys: [env.WECHAT_OA_ENCODING_AES_KEY, env.WECHAT_OA_ENCODING_AES_KEY_PREVIOUS].map((k) => k?.trim() ?? '').filter(Boolean),
          // anything else than the three modes is passed on for checkConfig to name
          mode: text(env.WECHAT_OA_MESSAGE_MODE) as OaMessageMode | undefined,
        }
      : null,
  });
  return [
    mini,
    websiteQr({ appid: env.WECHAT_WEB_APPID ?? '', secret: env.WECHAT_WEB_SECRET ?? '' }),
    oa,
    pcLogin({ via: oa }),
    ...(oaToken ? [followToLogin({ via: oa })] : []),
    webviewTicket({ from: mini }),
  ];
}

export function optionsFromEnv(env: Env): ServerOptions {
  const tokenBase = text(env.WECHAT_TOKEN_BASE);
  const mongodbUri = text(env.MONGODB_URI);
  return {
    environment: deploymentKind(env),
    allowEphemeralPreview: env.ALLOW_EPHEMERAL_PREVIEW?.trim() === '1',
    platform: env.VERCEL ? 'vercel' : 'node',
    doors: doorsFromEnv(env),
    publicBaseUrl: text(env.PUBLIC_BASE_URL) ?? null,
    wechat: {
      apiBase: text(env.WECHAT_API_BASE),
      // unset: WeChat's default failover; set (even empty): exactly the listed access points
      failover: env.WECHAT_API_FAILOVER === undefined ? undefined : env.WECHAT_API_FAILOVER.split(','),
      timeoutMs: int(env.WECHAT_TIMEOUT_MS),
      tokenRelay: tokenBase ? { url: tokenBase, key: text(env.WECHAT_TOKEN_RELAY_KEY) ?? null } : null,
      openBase: text(env.WECHAT_OPEN_BASE),
      mpBase: text(env.WECHAT_MP_BASE),
    },
    mongodb: mongodbUri ? { uri: mongodbUri, dbName: text(env.MONGODB_DB) } : null,
    dataDir: text(env.DATA_DIR),
    sealKeys: text(env.SESSION_KEY_ENCRYPTION_KEYS) ?? null,
    // an unknown level falls back to 'info' (resolveConfig)
    logLevel: env.LOG_LEVEL as LogLevel | undefined,
    rateLimit: { perAddress: int(env.RATE_LIMIT_PER_ADDRESS), perAppid: int(env.RATE_LIMIT_PER_APPID), perPcAttempt: int(env.RATE_LIMIT_PER_PC_ATTEMPT) },
    clientAddress: { header: text(env.CLIENT_ADDRESS_HEADER) ?? null, hops: int(env.CLIENT_ADDRESS_HOPS), trustedProxies: env.CLIENT_ADDRESS_TRUSTED_PROXIES },
    requestDeadlineMs: int(env.REQUEST_DEADLINE_MS),
    mpVerify: env.WECHAT_MP_VERIFY,
    appName: text(env.APP_NAME),
    pc: { eventsStreamMs: int(env.PC_EVENTS_STREAM_MS), attemptTtlMs: int(env.PC_ATTEMPT_TTL_MS) },
  };
}

/** The configuration the environment describes (doctor, migrate, the deploy check). */
export function loadConfig(env: Env): Config {
  return resolveConfig(optionsFromEnv(env));
}

function text(value: string | undefined): string | undefined {
  return value?.trim() || undefined;
}

function int(value: string | undefined): number | undefined {
  const n = Number.parseInt(value ?? '', 10);
  return Number.isFinite(n) ? n : undefined;
}
