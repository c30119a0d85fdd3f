/**
 * The browser OAuth rules defined once, for the API (packages/server/src/flows/oauth), the WeChat simulator and
 * the H5 client (docs/WECHAT.md).
 */

/**
 * WeChat's `state` rule (公众号网页授权, docs/WECHAT.md "The authorize URLs"): "a-zA-Z0-9 的参数值，最多128字节".
 * The same rule is applied to qrconnect (§4 states none; §5's is the strictest published one).
 */
export const OAUTH_STATE_PATTERN = /^[A-Za-z0-9]{1,128}$/;

export function isOAuthState(value: unknown): value is string {
  return typeof value === 'string' && OAUTH_STATE_PATTERN.test(value);
}

/**
 * The H5 login page (history router) the API sends browsers back to after WeChat's redirect: the
 * login page of the uni_module wlu-wxlogin, registered by the host as the subPackages root
 * `uni_modules/wlu-wxlogin/pages` (packages/wlu-wxlogin/readme.md).
 */
export const H5_LOGIN_PAGE = '/uni_modules/wlu-wxlogin/pages/login/index';

/** Where a login continues when no `next` was given. */
export const DEFAULT_NEXT = '/pages/account/index';

/**
 * Official-account scopes (§5): snsapi_base is silent and yields the openid only (no unionid, no
 * profile); snsapi_userinfo asks for consent and yields the unionid and the profile.
 */
export const OA_SCOPE_BASE = 'snsapi_base';
export const OA_SCOPE_USERINFO = 'snsapi_userinfo';
