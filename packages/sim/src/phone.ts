import { Hono } from 'hono';
import { readWxJson, requirePost, wxError, wxJson } from './errors.js';
import { withFaults } from './faults.js';
import type { SimState } from './state.js';

/** Default phone of a simulated person: stable per user, in the 139 range. */
export function defaultPhone(state: SimState, user: string): string {
  const digits = [...state.openid('phone', user)].map((ch) => ch.charCodeAt(0) % 10).join('');
  return `139${digits.slice(0, 8)}`;
}

/** POST /wxa/business/getuserphonenumber?access_token=… with JSON {"code"} (facts §2). */
export function phoneApi(state: SimState) {
  return new Hono().get('/wxa/business/getuserphonenumber', requirePost).post('/wxa/business/getuserphonenumber', withFaults(state, 'getuserphonenumber'), async (c) => {
    const token = c.req.query('access_token');
    const check = state.tokens.check(token);
    if (check) return wxError(c, check);
    const appid = state.tokens.appOf(token!)!;
    const body = await readWxJson<{ code?: unknown }>(c);
    if (body instanceof Response) return body;
    if (typeof body?.code !== 'string' || !body.code) return wxError(c, 40029);
    const redeemed = state.redeemPhoneCode(appid, body.code);
    if ('errcode' in redeemed) return wxError(c, redeemed.errcode);
    const pure = state.phones.get(redeemed.user) ?? defaultPhone(state, redeemed.user);
    return wxJson(c, {
      errcode: 0,
      errmsg: 'ok',
      phone_info: {
        phoneNumber: pure,
        purePhoneNumber: pure,
        countryCode: '86',
        watermark: { timestamp: Math.floor(state.clock() / 1000), appid },
      },
    });
  });
}

/** Words the simulated content-safety check flags (so tests and demos can trigger a refusal). */
export const RISKY_WORDS = ['违禁词', 'forbidden-word'];

/** POST /wxa/msg_sec_check?access_token=… v2: {content, version: 2, scene, openid}. */
export function securityApi(state: SimState) {
  return new Hono().get('/wxa/msg_sec_check', requirePost).post('/wxa/msg_sec_check', withFaults(state, 'msg_sec_check'), async (c) => {
    const check = state.tokens.check(c.req.query('access_token'));
    if (check) return wxError(c, check);
    const body = await readWxJson<{ content?: unknown; version?: unknown; scene?: unknown; openid?: unknown }>(c);
    if (body instanceof Response) return body;
    if (body.version !== 2 || typeof body.content !== 'string' || typeof body.openid !== 'string' || ![1, 2, 3, 4].includes(body.scene as number)) {
      return wxError(c, 40003, 'invalid openid or params');
    }
    const risky = RISKY_WORDS.some((w) => (body.content as string).includes(w));
    return wxJson(c, {
      errcode: 0,
      errmsg: 'ok',
      result: { suggest: risky ? 'risky' : 'pass', label: risky ? 20001 : 100 },
      detail: [{ strategy: 'content_model', errcode: 0, suggest: risky ? 'risky' : 'pass', label: risky ? 20001 : 100, prob: risky ? 90 : 0 }],
      trace_id: `${Date.now().toString(16)}-sim`,
    });
  });
}
