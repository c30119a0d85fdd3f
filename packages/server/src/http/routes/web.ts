import { WEB_DOOR } from '../../flows/web/door.js';
import { oauthRoutes, type OAuthRouteDeps } from './oauth.js';

/** Website QR login's HTTP face (the door itself: flows/web/door.ts): GET /qr, /callback, POST /session, POST /embed (WxLogin). */
export type WebRouteDeps = Omit<OAuthRouteDeps, 'door'>;

export function webRoutes(deps: WebRouteDeps) {
  return oauthRoutes({ ...deps, door: WEB_DOOR }, '/qr', { embeddable: true });
}
