import { OA_DOOR } from '../../flows/oa/door.js';
import { oauthRoutes, type OAuthRouteDeps } from './oauth.js';

/** Official-account web authorization's HTTP face (the door itself: flows/oa/door.ts): GET /start, /callback, POST /session. */
export type OaRouteDeps = Omit<OAuthRouteDeps, 'door'>;

export function oaRoutes(deps: OaRouteDeps) {
  return oauthRoutes({ ...deps, door: OA_DOOR }, '/start');
}
