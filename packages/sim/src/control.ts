import { Hono } from 'hono';
import { z } from 'zod';
import { OA_ACCOUNT_TYPES, type SimState } from './state.js';

const CodeBody = z.object({ appid: z.string().min(1), user: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/) });
const FaultBody = z.object({
  api: z.enum(['jscode2session', 'token', 'stable_token', 'getuserphonenumber', 'msg_sec_check', 'oauth2_access_token', 'sns_userinfo', 'qrcode_create', 'user_info', 'sns_refresh_token']),
  mode: z.enum(['slow', 'system_error', 'rate_limited', 'malformed', 'http_500', 'html', 'invalid_access_token']).nullable(),
  times: z.number().int().positive().optional(),
  delayMs: z.number().int().min(0).max(60_000).optional(),
});
const BlockBody = z.object({ user: z.string().min(1), blocked: z.boolean() });

/**
 * Control endpoints under /__sim: what the WeChat app on a phone would do (wx.login), plus switches
 * for tests. They exist only in the simulator, never in the API.
 */
export function controlApi(state: SimState) {
  const bad = (message: string) => Response.json({ error: message }, { status: 400 });
  return new Hono()
    .post('/mini/code', async (c) => {
      const parsed = CodeBody.safeParse(await c.req.json().catch(() => null));
      if (!parsed.success) return bad('body must be {"appid": "...", "user": "[A-Za-z0-9_.-]{1,64}"}');
      if (!state.apps.has(parsed.data.appid)) return bad(`unknown appid ${parsed.data.appid}`);
      return c.json({ code: state.issueMiniCode(parsed.data.appid, parsed.data.user) });
    })
    .post('/mini/phone-code', async (c) => {
      // The phone-number button (open-type="getPhoneNumber"): the person agrees, the page gets a code.
      const parsed = CodeBody.extend({ phone: z.string().regex(/^1\d{10}$/).optional() }).safeParse(await c.req.json().catch(() => null));
      if (!parsed.success) return bad('body must be {"appid", "user", "phone"?: "1xxxxxxxxxx"}');
      if (!state.apps.has(parsed.data.appid)) return bad(`unknown appid ${parsed.data.appid}`);
      if (parsed.data.phone) state.phones.set(parsed.data.user, parsed.data.phone);
      return c.json({ code: state.issuePhoneCode(parsed.data.appid, parsed.data.user) });
    })
    .post('/apps/whitelist', async (c) => {
      const parsed = z.object({ appid: z.string(), ips: z.array(z.string()).nullable() }).safeParse(await c.req.json().catch(() => null));
      const app = parsed.success ? state.apps.get(parsed.data.appid) : undefined;
      if (!parsed.success || !app) return bad('body must be {"appid", "ips": [..] | null}');
      app.ipWhitelist = parsed.data.ips;
      return c.json({ ok: true });
    })
    .post('/apps/oa-type', async (c) => {
      // 公众号类型: verified-service (认证服务号) | unverified-service | subscription (订阅号) — the last two get 48001 from qrcode/create
      const parsed = z.object({ appid: z.string(), type: z.enum(OA_ACCOUNT_TYPES) }).safeParse(await c.req.json().catch(() => null));
      const app = parsed.success ? state.apps.get(parsed.data.appid) : undefined;
      if (!parsed.success || !app || app.kind !== 'oa') return bad(`body must be {"appid": <an official account>, "type": ${OA_ACCOUNT_TYPES.map((t) => `"${t}"`).join(' | ')}}`);
      app.oaType = parsed.data.type;
      return c.json({ ok: true });
    })
    .post('/tokens/stable/force', async (c) => {
      // Another system of the company force-refreshing the shared stable token.
      const parsed = z.object({ appid: z.string() }).safeParse(await c.req.json().catch(() => null));
      if (!parsed.success || !state.apps.has(parsed.data.appid)) return bad('body must be {"appid"}');
      const result = state.tokens.stable(parsed.data.appid, true);
      return c.json('errcode' in result ? result : { ok: true });
    })
    .get('/tokens/stats', (c) => c.json(Object.fromEntries(state.tokens.stableFetches)))
    .post('/faults', async (c) => {
      const parsed = FaultBody.safeParse(await c.req.json().catch(() => null));
      if (!parsed.success) return bad(parsed.error.issues[0]?.message ?? 'bad fault');
      const { api, mode, times, delayMs } = parsed.data;
      if (mode === null) state.faults.delete(api);
      else state.faults.set(api, { mode, remaining: times ?? null, delayMs: delayMs ?? 10_000 });
      return c.json({ ok: true });
    })
    .post('/users/profile', async (c) => {
      // What WeChat knows of a person: sns/userinfo nickname / headimgurl, or "on a snapshot page".
      const parsed = z
        .object({
          user: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/),
          nickname: z.string().max(64).optional(),
          headimgurl: z.string().max(512).optional(),
          snapshot: z.boolean().optional(),
        })
        .safeParse(await c.req.json().catch(() => null));
      if (!parsed.success) return bad('body must be {"user", "nickname"?, "headimgurl"?, "snapshot"?: true|false}');
      const { user, ...person } = parsed.data;
      state.people.set(user, { ...state.people.get(user), ...person });
      return c.json({ ok: true });
    })
    .post('/apps/domains', async (c) => {
      // 授权回调域 (website app) / 网页授权域名 (official account)
      const parsed = z.object({ appid: z.string(), domains: z.array(z.string().min(1)) }).safeParse(await c.req.json().catch(() => null));
      const app = parsed.success ? state.apps.get(parsed.data.appid) : undefined;
      if (!parsed.success || !app) return bad('body must be {"appid", "domains": ["host", ...]}');
      app.domains = parsed.data.domains;
      return c.json({ ok: true });
    })
    .post('/users/revoke', async (c) => {
      // The person withdrew the app's authorization in WeChat (or changed the password): every
      // access_token / refresh_token of theirs for the app answers 42007; the next snsapi_userinfo asks again.
      const parsed = z.object({ appid: z.string(), user: CodeBody.shape.user }).safeParse(await c.req.json().catch(() => null));
      if (!parsed.success || !state.apps.has(parsed.data.appid)) return bad('body must be {"appid", "user"}');
      const revoked = state.web.revoke(parsed.data.appid, parsed.data.user);
      state.oa.forget(parsed.data.appid, parsed.data.user);
      return c.json({ ok: true, revoked });
    })
    .post('/users/block', async (c) => {
      const parsed = BlockBody.safeParse(await c.req.json().catch(() => null));
      if (!parsed.success) return bad('body must be {"user": "...", "blocked": true|false}');
      if (parsed.data.blocked) state.blockedUsers.add(parsed.data.user);
      else state.blockedUsers.delete(parsed.data.user);
      return c.json({ ok: true });
    })
    // The phone side of the website QR login (what the person does in WeChat after scanning).
    .post('/web/scan', async (c) => {
      const parsed = z.object({ uuid: z.string().min(1), user: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/) }).safeParse(await c.req.json().catch(() => null));
      if (!parsed.success) return bad('body must be {"uuid", "user": "[A-Za-z0-9_.-]{1,64}"}');
      const qr = state.web.scan(parsed.data.uuid, parsed.data.user);
      return typeof qr === 'string' ? c.json({ error: qr }, 409) : c.json({ status: qr.status });
    })
    .post('/web/confirm', async (c) => {
      const parsed = z.object({ uuid: z.string().min(1) }).safeParse(await c.req.json().catch(() => null));
      if (!parsed.success) return bad('body must be {"uuid"}');
      const qr = state.web.confirm(parsed.data.uuid);
      return typeof qr === 'string' ? c.json({ error: qr }, 409) : c.json({ status: qr.status, redirectUrl: qr.redirectUrl });
    })
    .post('/web/cancel', async (c) => {
      const parsed = z.object({ uuid: z.string().min(1) }).safeParse(await c.req.json().catch(() => null));
      if (!parsed.success) return bad('body must be {"uuid"}');
      const qr = state.web.cancel(parsed.data.uuid);
      return typeof qr === 'string' ? c.json({ error: qr }, 409) : c.json({ status: qr.status });
    })
    .get('/calls', (c) => c.json(Object.fromEntries(state.calls)))
    .get('/health', (c) => c.json({ ok: true, apps: [...state.apps.keys()] }));
}
