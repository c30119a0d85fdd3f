import { Hono } from 'hono';
import { wxError, wxJson } from './errors.js';
import type { SimState } from './state.js';
import { withFaults } from './faults.js';

/** GET /sns/jscode2session — checks in WeChat's order: parameters, appid, secret, code, risk. */
export function miniApi(state: SimState) {
  return new Hono().get('/sns/jscode2session', withFaults(state, 'jscode2session'), (c) => {
    const { appid, secret, js_code: code, grant_type: grantType } = c.req.query();
    if (!appid) return wxError(c, 41002);
    if (!secret) return wxError(c, 41004);
    if (!code) return wxError(c, 41008);
    if (grantType !== 'authorization_code') return wxError(c, 40002);
    const app = state.apps.get(appid);
    if (!app) return wxError(c, 40013);
    if (app.secret !== secret) return wxError(c, 40125);
    const redeemed = state.redeemMiniCode(appid, code);
    if ('errcode' in redeemed) return wxError(c, redeemed.errcode);
    if (state.blockedUsers.has(redeemed.user)) return wxError(c, 40226);
    const unionid = state.unionid(app, redeemed.user);
    // The success body has no errcode field, as observed from WeChat.
    return wxJson(c, { session_key: redeemed.sessionKey, openid: state.openid(appid, redeemed.user), ...(unionid ? { unionid } : {}) });
  });
}
