import { Hono } from 'hono';
import { checkCodeExchange, wxError, wxJson } from './errors.js';
import type { SimState } from './state.js';
import { withFaults } from './faults.js';

/** GET /sns/jscode2session — checks in WeChat's order: parameters, appid, secret, code, risk. */
export function miniApi(state: SimState) {
  return new Hono().get('/sns/jscode2session', withFaults(state, 'jscode2session'), (c) => {
    const checked = checkCodeExchange(c, state.apps, c.req.query(), 'js_code');
    if (checked instanceof Response) return checked;
    const { app, code } = checked;
    const appid = app.appid;
    const redeemed = state.redeemMiniCode(appid, code);
    if ('errcode' in redeemed) return wxError(c, redeemed.errcode);
    if (state.blockedUsers.has(redeemed.user)) return wxError(c, 40226);
    const unionid = state.unionid(app, redeemed.user);
    // The success body has no errcode field, as observed from WeChat.
    return wxJson(c, { session_key: redeemed.sessionKey, openid: state.openid(appid, redeemed.user), ...(unionid ? { unionid } : {}) });
  });
}
