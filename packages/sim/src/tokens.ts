import { getConnInfo } from '@hono/node-server/conninfo';
import { Hono, type Context } from 'hono';
import { base62 } from './ids.js';
import { requirePost, wxError, wxJson } from './errors.js';
import { withFaults } from './faults.js';
import type { SimApp, SimState } from './state.js';

/**
 * Access tokens as WeChat hands them out (docs/WECHAT.md "Access token"):
 * - cgi-bin/token: every call issues a new token; the previous one keeps working for 5 minutes.
 * - cgi-bin/stable_token (POST JSON): a separate namespace. Normal mode returns the current token
 *   and only rotates it in its last 5 minutes (expires_in ≥ 300); force_refresh invalidates the
 *   current one at once, at most 20 times a day and 30 s apart (otherwise it does not refresh).
 * - Both check the caller IP against the app's whitelist (40164).
 */
export const TOKEN_TTL_S = 7200;
const OVERLAP_MS = 5 * 60 * 1000;
const FORCE_PER_DAY = 20;
const FORCE_SPACING_MS = 30_000;

interface TokenEntry {
  appid: string;
  expiresAt: number;
  /** set when a newer token replaced it: valid until then (grace) or, if force-refreshed, already past */
  invalidAfter: number | null;
}

export class TokenState {
  private readonly tokens = new Map<string, TokenEntry>();
  private readonly basicCurrent = new Map<string, string>();
  private readonly stableCurrent = new Map<string, string>();
  private readonly forces = new Map<string, { day: string; count: number; last: number }>();
  /** stable_token fetches per appid (normal + force), for tests */
  readonly stableFetches = new Map<string, { normal: number; force: number }>();

  constructor(private readonly clock: () => number) {}

  private issue(appid: string): string {
    const token = `${base62(12)}_${base62(120)}`;
    this.tokens.set(token, { appid, expiresAt: this.clock() + TOKEN_TTL_S * 1000, invalidAfter: null });
    return token;
  }

  basic(appid: string): { token: string; expiresIn: number } {
    const previous = this.basicCurrent.get(appid);
    if (previous) this.retire(previous, this.clock() + OVERLAP_MS);
    const token = this.issue(appid);
    this.basicCurrent.set(appid, token);
    return { token, expiresIn: TOKEN_TTL_S };
  }

  stable(appid: string, force: boolean): { token: string; expiresIn: number } | { errcode: number } {
    const now = this.clock();
    const counts = this.stableFetches.get(appid) ?? { normal: 0, force: 0 };
    this.stableFetches.set(appid, counts);
    let current = this.stableCurrent.get(appid);
    if (force) {
      counts.force++;
      const day = new Date(now + 8 * 3600_000).toISOString().slice(0, 10); // Beijing day
      const f = this.forces.get(appid);
      const state = f && f.day === day ? f : { day, count: 0, last: 0 };
      if (state.count >= FORCE_PER_DAY) return { errcode: 45009 };
      if (current && now - state.last < FORCE_SPACING_MS) {
        // Too soon: WeChat does not refresh, the current token comes back.
        return { token: current, expiresIn: this.remaining(current) };
      }
      state.count++;
      state.last = now;
      this.forces.set(appid, state);
      if (current) this.retire(current, now);
      current = undefined;
    } else {
      counts.normal++;
    }
    if (current && this.tokens.get(current)!.expiresAt - now > OVERLAP_MS) return { token: current, expiresIn: this.remaining(current) };
    if (current) this.retire(current, this.tokens.get(current)!.expiresAt);
    const token = this.issue(appid);
    this.stableCurrent.set(appid, token);
    return { token, expiresIn: TOKEN_TTL_S };
  }

  /** 0 = valid for appid; else WeChat's errcode. */
  check(token: string | undefined, appid?: string): 0 | 40001 | 41001 | 42001 {
    if (!token) return 41001;
    const entry = this.tokens.get(token);
    if (!entry || (appid && entry.appid !== appid)) return 40001;
    const now = this.clock();
    if (entry.invalidAfter !== null && now >= entry.invalidAfter) return 40001;
    if (now >= entry.expiresAt) return 42001;
    return 0;
  }

  appOf(token: string): string | null {
    return this.tokens.get(token)?.appid ?? null;
  }

  private remaining(token: string): number {
    return Math.max(0, Math.floor((this.tokens.get(token)!.expiresAt - this.clock()) / 1000));
  }

  private retire(token: string, at: number): void {
    const entry = this.tokens.get(token);
    if (entry && (entry.invalidAfter === null || entry.invalidAfter > at)) entry.invalidAfter = at;
  }
}

function callerIp(c: Context): string {
  try {
    return (getConnInfo(c).remote.address ?? '').replace(/^::ffff:/, '');
  } catch {
    return '127.0.0.1';
  }
}

/** null when the caller may fetch tokens for the app, else the error response. */
function gate(c: Context, state: SimState, appid: string | undefined, secret: string | undefined, wrongSecret: 40001 | 40125): SimApp | Response {
  if (!appid) return wxError(c, 41002);
  if (!secret) return wxError(c, 41004);
  const app = state.apps.get(appid);
  if (!app) return wxError(c, 40013);
  if (app.secret !== secret) return wxError(c, wrongSecret);
  const ip = callerIp(c);
  if (app.ipWhitelist && !app.ipWhitelist.includes(ip)) return wxError(c, 40164, `invalid ip ${ip} ipv6 ::ffff:${ip}, not in whitelist`);
  return app;
}

export function tokenApi(state: SimState) {
  return new Hono()
    .get('/cgi-bin/token', withFaults(state, 'token'), (c) => {
      const q = c.req.query();
      if (q.grant_type !== 'client_credential') return wxError(c, 40002);
      // §6: cgi-bin/token answers a wrong AppSecret with 40001 (AppSecret 错误或者 AppSecret 不属于这个小程序)
      const app = gate(c, state, q.appid, q.secret, 40001);
      if (app instanceof Response) return app;
      const { token, expiresIn } = state.tokens.basic(app.appid);
      return wxJson(c, { access_token: token, expires_in: expiresIn });
    })
    .get('/cgi-bin/stable_token', requirePost)
    .post('/cgi-bin/stable_token', withFaults(state, 'stable_token'), async (c) => {
      // POST JSON only: a form body reads as "appid missing", as at WeChat.
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(await c.req.text());
      } catch {}
      if (body === null || typeof body !== 'object') body = {};
      if (body.grant_type !== 'client_credential' && body.appid) return wxError(c, 40002);
      // stable_token: 40125 invalid appsecret (§1 / global codes; its own table is unverified, §6)
      const app = gate(c, state, body.appid as string | undefined, body.secret as string | undefined, 40125);
      if (app instanceof Response) return app;
      const result = state.tokens.stable(app.appid, body.force_refresh === true);
      if ('errcode' in result) return wxError(c, result.errcode);
      return wxJson(c, { access_token: result.token, expires_in: result.expiresIn });
    });
}
