import { CodeBook } from './codes.js';
import { base62, derivedId, sessionKey } from './ids.js';
import { TokenState } from './tokens.js';
import { WebState } from './web.js';
import { OaState } from './oa.js';
import { OaServerState } from './oa-server.js';

/** A registered (simulated) mini-program / official account. */
export interface SimApp {
  appid: string;
  secret: string;
  /** Open platform account the app is bound to: only then does WeChat return a unionid. */
  openPlatformId: string | null;
  /** 'web': a website app (qrconnect / sns/oauth2); 'oa': an official account (oauth2/authorize / sns/oauth2); default 'mini' */
  kind?: 'mini' | 'web' | 'oa';
  /** caller IPs allowed to fetch access tokens; null = whitelist not enabled */
  ipWhitelist?: string[] | null;
  /**
   * Website app: 授权回调域; official account: 网页授权域名 (docs/WECHAT.md "Registered domains"). A
   * redirect_uri whose host is not one of these gets WeChat's error page (10003 / 该链接无法访问).
   * Host names (any port) or host:port. Unset or empty = nothing configured = every redirect refused.
   */
  domains?: string[];
  /**
   * Official account only: what kind of account it is (公众号类型). Only a verified service account
   * (认证服务号) may create parametric QR codes: the others get 48001 from cgi-bin/qrcode/create, as
   * WeChat answers (docs/WECHAT.md "Parametric QR codes"). Default 'verified-service'.
   */
  oaType?: OaAccountType;
}

export const OA_ACCOUNT_TYPES = ['verified-service', 'unverified-service', 'subscription'] as const;
export type OaAccountType = (typeof OA_ACCOUNT_TYPES)[number];

/** A simulated person's WeChat profile and situation, set through POST /__sim/users/profile. */
export interface SimPerson {
  /** sns/userinfo nickname; default: the person's simulator name. May hold control characters (sent raw, as WeChat has). */
  nickname?: string;
  /** sns/userinfo headimgurl; '' = no avatar */
  headimgurl?: string;
  /** on an official-account snapshot page (快照页, §5): virtual openid/unionid, is_snapshotuser: 1 */
  snapshot?: boolean;
}

export type SimApi = 'jscode2session' | 'token' | 'stable_token' | 'getuserphonenumber' | 'msg_sec_check' | 'oauth2_access_token' | 'sns_userinfo' | 'qrcode_create' | 'user_info' | 'sns_refresh_token';
export type FaultMode = 'slow' | 'system_error' | 'rate_limited' | 'malformed' | 'http_500' | 'html' | 'invalid_access_token';
export interface Fault {
  mode: FaultMode;
  /** how many calls it affects; null = until cleared */
  remaining: number | null;
  delayMs: number;
}

interface MiniCode {
  appid: string;
  user: string;
  expiresAt: number;
  used: boolean;
}

export const CODE_TTL_MS = 5 * 60 * 1000;

export class SimState {
  readonly apps = new Map<string, SimApp>();
  readonly blockedUsers = new Set<string>();
  readonly faults = new Map<string, Fault>();
  /** counts of calls per API path, for tests that assert "WeChat was (not) called" */
  readonly calls = new Map<string, number>();
  readonly tokens: TokenState;
  /** website QR login: QR sessions, OAuth codes and OAuth access tokens */
  readonly web: WebState;
  /** official-account web authorization: consents given and pending consent pages */
  readonly oa: OaState;
  /** official account server side: server URL settings, parametric QR codes, followers */
  readonly oaServer: OaServerState;
  /** profiles / snapshot-page switch of simulated people */
  readonly people = new Map<string, SimPerson>();
  /** phone numbers of simulated people (purePhoneNumber, China +86) */
  readonly phones = new Map<string, string>();
  /** getuserphonenumber codes: a never-valid code stays 40029 (the 40029 → 40163 sequence is observed for login codes only) */
  private readonly phoneCodes: CodeBook<MiniCode>;
  private readonly codes: CodeBook<MiniCode>;
  readonly sessionKeys = new Map<string, string>();
  /** every openid the simulator handed out → its app and person (cgi-bin/user/info tells this account's from others) */
  private readonly openids = new Map<string, { appid: string; user: string }>();

  constructor(readonly seed: string, readonly clock: () => number = Date.now) {
    this.phoneCodes = new CodeBook(clock, false);
    this.codes = new CodeBook(clock, true);
    this.tokens = new TokenState(clock);
    this.web = new WebState(clock);
    this.oa = new OaState(clock);
    this.oaServer = new OaServerState(clock);
  }

  /** The phone-number button: a single-use 5-minute code for getuserphonenumber. */
  issuePhoneCode(appid: string, user: string): string {
    const code = base62(64).toLowerCase();
    this.phoneCodes.issue(code, { appid, user, expiresAt: this.clock() + CODE_TTL_MS, used: false });
    return code;
  }

  redeemPhoneCode(appid: string, code: string): { user: string } | { errcode: 40029 | 40163 } {
    const entry = this.phoneCodes.redeem(code, appid);
    return 'errcode' in entry ? entry : { user: entry.user };
  }

  addApp(app: SimApp): void {
    this.apps.set(app.appid, app);
  }

  openid(appid: string, user: string): string {
    const openid = derivedId(this.seed, 'openid', appid, user);
    this.openids.set(openid, { appid, user });
    return openid;
  }

  /** The person behind an openid of `appid` the simulator handed out, or null (another app's, or never issued). */
  personOf(appid: string, openid: string): string | null {
    const owner = this.openids.get(openid);
    return owner && owner.appid === appid ? owner.user : null;
  }

  unionid(app: SimApp, user: string): string | null {
    return app.openPlatformId ? derivedId(this.seed, 'unionid', app.openPlatformId, user) : null;
  }

  /** On a snapshot page WeChat hands out a virtual openid / unionid (§5), never the person's real ones. */
  oauthOpenid(appid: string, user: string, snapshot: boolean): string {
    return snapshot ? derivedId(this.seed, 'snapshot-openid', appid, user) : this.openid(appid, user);
  }

  oauthUnionid(app: SimApp, user: string, snapshot: boolean): string | null {
    if (!app.openPlatformId) return null;
    return snapshot ? derivedId(this.seed, 'snapshot-unionid', app.openPlatformId, user) : this.unionid(app, user);
  }

  /** Whether redirect_uri's host is one the app configured (§4 授权回调域, §5 网页授权域名). */
  redirectAllowed(app: SimApp, redirect: URL): boolean {
    return (app.domains ?? []).some((d) => d.toLowerCase() === redirect.hostname.toLowerCase() || d.toLowerCase() === redirect.host.toLowerCase());
  }

  /** wx.login: a new single-use code valid 5 minutes; it also rotates the user's session_key. */
  issueMiniCode(appid: string, user: string): string {
    const code = base62(32);
    this.codes.issue(code, { appid, user, expiresAt: this.clock() + CODE_TTL_MS, used: false });
    this.sessionKeys.set(`${appid}:${user}`, sessionKey());
    return code;
  }

  /** Looks a code up for jscode2session; marks it used. Returns an errcode on failure. */
  redeemMiniCode(appid: string, code: string): { user: string; sessionKey: string } | { errcode: 40029 | 40163 } {
    const entry = this.codes.redeem(code, appid);
    return 'errcode' in entry ? entry : { user: entry.user, sessionKey: this.sessionKeys.get(`${appid}:${entry.user}`)! };
  }

  currentSessionKey(appid: string, user: string): string | undefined {
    return this.sessionKeys.get(`${appid}:${user}`);
  }

  countCall(api: string): void {
    this.calls.set(api, (this.calls.get(api) ?? 0) + 1);
  }

  /** Takes the active fault for an API, consuming one use. */
  takeFault(api: string): Fault | null {
    const fault = this.faults.get(api);
    if (!fault) return null;
    if (fault.remaining !== null && --fault.remaining <= 0) this.faults.delete(api);
    return fault;
  }
}
