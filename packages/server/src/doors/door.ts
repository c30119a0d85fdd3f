import type { Context, Hono, MiddlewareHandler } from 'hono';
import type { Urls } from '../http/urls.js';
import type { Logger } from '../log.js';
import type { Sealer } from '../crypto/seal.js';
import type { SessionManager } from '../sessions/sessions.js';
import type { Storage } from '../store/types.js';
import type { UserEvents } from '../users/hooks.js';
import type { AccessTokens } from '../wechat/access-token.js';
import type { WechatTransport } from '../wechat/transport.js';
import type { AttemptDeps } from '../flows/attempt/attempt.js';
import type { AttemptNotifier } from '../flows/attempt/notify.js';
import type { AttemptPort } from '../flows/follow/attempt-port.js';
import type { OaServerDeps } from '../http/oa-server.js';

/** One WeChat app's credentials: its AppID and AppSecret (a secret: never in a response or log line). */
export interface DoorApp {
  appid: string;
  secret: string;
}

import type { LimitClass } from '../http/rate-limit.js';
import type { DoorInfo } from '../../../../shared/api.js';
export type { LimitClass };

/** The kinds of door the package ships (a descriptor's factory sets it); a new door brings its own. */
export type DoorKind = 'mini' | 'web' | 'oa' | 'pc' | 'follow' | 'webview' | (string & {});

/**
 * What the production guard and `npm run doctor` judge a door against (config.ts checkConfig):
 * the deployment's own settings, not the door's.
 */
export interface DoorCheckInput {
  deployment: 'production' | 'preview' | 'development';
  publicBaseUrl: string | null;
  openBaseUrl: string;
}

/**
 * A login door as data (issue 20 "Doors are data", docs/design/issue-20-drop-in.md §5). Hosts only
 * LIST descriptors (`doors: [miniProgram({...}), ...]`); the wiring derives the routes, the rate
 * limits, the 405 table, the failure log names, GET <basePath>/doors and the production checks
 * from the list. A descriptor's factory is the one place a door is written down.
 */
export interface Door {
  readonly kind: DoorKind;
  /** the routes' segment: <basePath>/<name>/*, and `auth.<name>.*` log events */
  readonly name: string;
  /** its own app credentials; null: listed but not configured (its endpoints answer <door>_login_not_configured) */
  readonly app: DoorApp | null;
  /** sub-path (relative to <basePath>/<name>, Hono pattern) → the methods it answers; another method is 405 with Allow */
  readonly allowed: Readonly<Record<string, string>>;
  /** sub-path → its rate-limit class; a sub-path not listed is limited per address */
  readonly limits: Readonly<Record<string, LimitClass>>;
  /** the 'attempt' class's key: which of this door's attempts a request is about (null: none; absent: the class means per address) */
  readonly attemptOf?: ((c: Context) => string | null) | undefined;
  /** whether failures under it are logged as `auth.<name>.failed` (a login door's failures are; WeChat's pushes are not) */
  readonly logsFailures: boolean;
  /** sub-paths whose failures are not a login's (the official account's push endpoint) */
  readonly quiet?: readonly string[] | undefined;
  /** its HTTP face under <basePath>/<name>; null: it adds to other doors and has no routes of its own */
  routes(ctx: DoorContext): Hono<any> | null;
  /** what GET <basePath>/doors tells the client: names and public AppIDs, never a secret; null: not shown */
  publicInfo(): DoorInfo | null;
  /** its slice of the production guard / doctor */
  check(input: DoorCheckInput): { problems: string[]; notes: string[] };
}

/**
 * Everything a door's routes are built from, made once per instance (main.ts): nothing here is
 * module-level, so two instances never share a door's state.
 */
export interface DoorContext {
  doors: readonly Door[];
  urls: Urls;
  store: Storage;
  /** the host's user hooks (ServerOptions.hooks), handed to every flow that creates or merges users */
  userEvents?: UserEvents | undefined;
  sessions: SessionManager;
  sealer: Sealer;
  logger: Logger;
  clock?: (() => Date) | undefined;
  production: boolean;
  appName: string;
  openBaseUrl: string;
  mpBaseUrl: string;
  wechat: {
    transport: WechatTransport;
    /** charges the per-AppID limit, then runs the WeChat call */
    spend<T>(appid: string | undefined, call: () => Promise<T>): Promise<T>;
    /** the app's access_token (one per AppID and instance, shared by every door of that app) */
    accessTokens(app: DoorApp): AccessTokens;
  };
  /** request bodies a door reads as JSON: refused above 16 KB before they are read */
  limitBody: MiddlewareHandler;
  /** PC login attempts (flows/attempt) and this instance's notifier of their changes */
  attempt: AttemptDeps;
  notifier: AttemptNotifier;
  /** follow-to-login's view of the attempts: a scan marks one, the reply link confirms it */
  followPort: AttemptPort;
  pc: { streamMs: number; longPollMs: number; clientAddress(c: Context): string | null };
  /** the follow QR's own per-address limit (throws too_many_requests); absent: no limits */
  followQrLimit?: ((c: Context) => void) | undefined;
  oaPushLimits?: OaServerDeps['limits'] | undefined;
  /** one value per (door, key) for the instance's life: state a door's routes share (e.g. its follow QRs) */
  once<T>(door: Door, key: string, make: () => T): T;
}

/** An AppID is `wx` + 16 hex characters; an AppSecret 32 hex characters. */
export function checkApp(app: DoorApp, label: string): string[] {
  const problems: string[] = [];
  if (!/^wx[0-9a-f]{16}$/.test(app.appid)) problems.push(`${label}_APPID is not an AppID (wx + 16 hex characters)`);
  if (!/^[0-9a-f]{32}$/.test(app.secret)) problems.push(`${label}_APPID is set but ${label}_SECRET is missing or not a 32-character AppSecret`);
  return problems;
}

/** Credentials as given, trimmed; null when no AppID is given (the door is listed but off). */
export function doorApp(app: { appid?: string | null | undefined; secret?: string | null | undefined } | null | undefined): DoorApp | null {
  const appid = app?.appid?.trim();
  return appid ? { appid, secret: app?.secret?.trim() ?? '' } : null;
}

/** A door's name becomes a path segment and a log event part. */
export const DOOR_NAME = /^[a-z][a-z0-9-]{0,31}$/;
