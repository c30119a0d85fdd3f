import type { OAuthDoor } from '../oauth/login.js';
import { oauthRoutes, type OAuthRouteDeps } from '../oauth/routes.js';

/**
 * Official-account web authorization (公众号网页授权): the H5 page opened inside WeChat, WeChat's
 * /connect/oauth2/authorize, scope snsapi_userinfo (default: asks for consent the first time and
 * seeds nickname/avatar) or snsapi_base (silent, openid only). The machinery is ../oauth.
 * GET /api/auth/oa/start?next=&scope= → authorize; /callback; POST /session.
 */
export const OA_DOOR: OAuthDoor = {
  name: 'oa',
  via: 'oa',
  authorizePath: '/connect/oauth2/authorize',
  scopes: ['snsapi_userinfo', 'snsapi_base'],
  errors: { notConfigured: 'oa_login_not_configured', stateInvalid: 'oa_login_state_invalid', stateUsed: 'oa_login_state_used', denied: 'oa_login_denied' },
};

export type OaRouteDeps = Omit<OAuthRouteDeps, 'door'>;

export function oaRoutes(deps: OaRouteDeps) {
  return oauthRoutes({ ...deps, door: OA_DOOR }, '/start');
}
