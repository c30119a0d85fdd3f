import { OA_SCOPE_BASE, OA_SCOPE_USERINFO } from '../../../../../shared/oauth.js';
import type { OAuthDoor } from '../oauth/login.js';

/**
 * Official-account web authorization (公众号网页授权): the H5 page opened inside WeChat, WeChat's
 * /connect/oauth2/authorize, scope snsapi_base (default: silent, openid only, logs in a known
 * openid only) or snsapi_userinfo (asks for consent the first time; unionid + nickname/avatar, which
 * seed a new account or fill an empty profile). The machinery is ../oauth.
 * GET /api/auth/oa/start?next=&scope= → authorize; /callback; POST /session.
 */
export const OA_DOOR: OAuthDoor = {
  name: 'oa',
  via: 'oa',
  authorizePath: '/connect/oauth2/authorize',
  // Silent first: snsapi_base recognises a known openid without a consent page; an unknown one is
  // sent back with oa_login_consent_required and the page asks for snsapi_userinfo after a tap.
  scopes: [OA_SCOPE_BASE, OA_SCOPE_USERINFO],
  errors: { notConfigured: 'oa_login_not_configured', stateInvalid: 'oa_login_state_invalid', stateUsed: 'oa_login_state_used', denied: 'oa_login_denied' },
  oa: { consentRequired: 'oa_login_consent_required', snapshotUser: 'oa_login_snapshot_user' },
};
