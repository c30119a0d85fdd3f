import { Hono } from 'hono';
import { OA_DOOR } from '../flows/oa/door.js';
import { oauthRoutes } from '../http/routes/oauth.js';
import { oaServerRoutes, type OaServerDeps, type PushMode } from '../http/oa-server.js';
import { doorApp, type Door } from './door.js';
import { followOf } from './follow.js';
import { checkBrowserDoor, oauthDeps } from './oauth.js';

export interface OfficialAccountOptions {
  /** the official account's AppID; empty: listed but off (oa_login_not_configured) */
  appid: string;
  /** its AppSecret (a secret) */
  secret: string;
  /**
   * Its server URL (服务器配置, <basePath>/oa/push): the Token, the EncodingAESKeys (current first,
   * the previous one during a rotation) and the message mode. Needed by followToLogin.
   * @default null (oa/push answers oa_push_not_configured); mode: 'safe' with a key, else 'plain'
   */
  push?: { token: string; encodingAesKeys?: readonly string[] | undefined; mode?: PushMode | undefined } | null | undefined;
  /** Keep the snsapi_userinfo grant (sealed) for 同步微信头像昵称 (POST <basePath>/me/wechat-profile). @default true */
  keepGrant?: boolean | undefined;
  /** the variable names its problems are reported under. @default 'WECHAT_OA' */
  label?: string | undefined;
}

export interface OfficialAccountDoor extends Door {
  readonly kind: 'oa';
  /** the server URL's settings as given (checked by `check`); null: none */
  readonly push: { token: string; encodingAesKeys: string[]; mode: string } | null;
  readonly keepGrant: boolean;
}

/**
 * Official-account web authorization (公众号网页授权) inside WeChat: GET oa/start → authorize;
 * oa/callback; POST oa/session — and the account's server URL POST/GET oa/push (follow-to-login's
 * scans arrive there; signed by WeChat, not limited per address, not a login's failure).
 */
export function officialAccount(options: OfficialAccountOptions): OfficialAccountDoor {
  const app = doorApp(options);
  const label = options.label ?? 'WECHAT_OA';
  const token = options.push?.token.trim();
  const encodingAesKeys = (options.push?.encodingAesKeys ?? []).map((k) => k.trim()).filter(Boolean);
  const push = options.push && token ? { token, encodingAesKeys, mode: options.push.mode?.trim() || (encodingAesKeys.length ? 'safe' : 'plain') } : null;
  const door: OfficialAccountDoor = {
    kind: 'oa',
    name: OA_DOOR.name,
    app,
    push,
    keepGrant: options.keepGrant ?? true,
    allowed: { '/start': 'GET', '/callback': 'GET', '/session': 'POST', '/push': 'GET, POST' },
    limits: { '/push': 'none', '/*': 'address' },
    logsFailures: true,
    quiet: ['/push'],
    routes: (ctx) => {
      const oauth = oauthDeps(ctx, app);
      const server = pushSettings(door, ctx.logger);
      const follow = followOf(ctx, door);
      const pushDeps: OaServerDeps = {
        server,
        store: ctx.store,
        logger: ctx.logger,
        port: ctx.followPort,
        clock: ctx.clock,
        limits: ctx.oaPushLimits,
        // after the reply: user/info → unionid → the same account as the mini-program / website, so the
        // confirmation link's web authorization is silent (snsapi_base finds the openid)
        identify: follow && server ? follow.identify : undefined,
      };
      const login = oauthRoutes({ ...oauth, door: OA_DOOR, keepGrant: door.keepGrant ? { sealer: ctx.sealer } : null }, '/start');
      // the push endpoint has its own body limit and verification (http/oa-server.ts)
      return new Hono()
        .route('/push', oaServerRoutes(pushDeps))
        .use((c, next) => (c.req.path.endsWith('/push') ? next() : ctx.limitBody(c, next)))
        .route('/', login);
    },
    publicInfo: () => (app ? { name: OA_DOOR.name, kind: 'oa', appid: app.appid } : null),
    check: (input) => {
      const result = checkBrowserDoor(app, input, { label, what: 'Official-account web authorization (公众号网页授权)', errorCode: 'oa_login_not_configured', registered: '网页授权域名 of the official account' });
      const { problems, notes } = result;
      if (push) {
        const { encodingAesKeys, mode } = push;
        if (!app) problems.push(`${label}_TOKEN is set but ${label}_APPID is not: the server URL checks the AppID inside every encrypted message`);
        problems.push(...unusablePush(push, label));
        if (mode === 'plain' && encodingAesKeys.length) problems.push(`${label}_MESSAGE_MODE=plain with ${label}_ENCODING_AES_KEY set: with a key, plaintext pushes are refused (a captured URL would take any body for 300 s) — choose safe (安全模式) in 服务器配置, or remove the key`);
        if (mode === 'plain') notes.push(`${label}_MESSAGE_MODE=plain: event pushes travel unencrypted; safe mode (安全模式) is recommended`);
      } else if (app) notes.push(`Follow-to-login (关注公众号登录) is off: ${label}_TOKEN is not set, so the server URL (oa/push) answers oa_push_not_configured`);
      return { problems, notes };
    },
  };
  return door;
}

/** What makes the server URL's settings unusable (empty: usable): the production check's problems, and what turns oa/push off. */
function unusablePush(push: NonNullable<OfficialAccountDoor['push']>, label: string): string[] {
  const { token, encodingAesKeys, mode } = push;
  const problems: string[] = [];
  if (!/^[A-Za-z0-9]{3,32}$/.test(token)) problems.push(`${label}_TOKEN must be the 3–32 letters/digits entered as Token (令牌) in 服务器配置`);
  if (!['plain', 'compatible', 'safe'].includes(mode)) problems.push(`${label}_MESSAGE_MODE must be plain, compatible or safe (明文 / 兼容 / 安全模式)`);
  if (mode !== 'plain' && !encodingAesKeys.length) problems.push(`${label}_MESSAGE_MODE=${mode} needs ${label}_ENCODING_AES_KEY (消息加解密密钥)`);
  if (encodingAesKeys.some((k) => !/^[A-Za-z0-9]{43}$/.test(k))) problems.push(`${label}_ENCODING_AES_KEY / _PREVIOUS must be the 43-letter/digit EncodingAESKey`);
  return problems;
}

/**
 * The server URL's settings when oa/push can run (configured, with its AppID, and usable), else null.
 * The push endpoint, the PC login's follow QR and GET /doors' follow entry all ask this one question.
 */
export function pushServer(door: OfficialAccountDoor): OaServerDeps['server'] {
  const s = door.push;
  if (!s || !door.app || unusablePush(s, '').length) return null;
  return { appid: door.app.appid, token: s.token, encodingAesKeys: s.encodingAesKeys, mode: s.mode as PushMode };
}

/** pushServer, saying in the log when settings are given but unusable (development: production refuses to start). */
export function pushSettings(door: OfficialAccountDoor, logger: { log(level: 'error', event: string, fields: Record<string, unknown>): void }): OaServerDeps['server'] {
  const server = pushServer(door);
  if (!server && door.push && door.app) logger.log('error', 'oa.push.misconfigured', { message: 'WECHAT_OA_TOKEN / ENCODING_AES_KEY / MESSAGE_MODE invalid: oa/push is off (npm run doctor)' });
  return server;
}
