import type { OAuthDoor } from '../oauth/login.js';

/**
 * Website QR login (微信扫码登录): a website app on the open platform, WeChat's qrconnect page,
 * scope snsapi_login. The machinery (state, cookie, code exchange, handoff) is ../oauth.
 * GET /api/auth/web/qr → qrconnect; POST /embed → WxLogin options (WeChat's QR inside our page); /callback; POST /session.
 */
export const WEB_DOOR: OAuthDoor = {
  name: 'web',
  via: 'web-qr',
  authorizePath: '/connect/qrconnect',
  scopes: ['snsapi_login'],
  // a callback without a code: treated as an invalid code, as before (the person simply scans again)
  errors: { notConfigured: 'web_login_not_configured', stateInvalid: 'web_login_state_invalid', stateUsed: 'web_login_state_used', denied: 'code_invalid' },
};
