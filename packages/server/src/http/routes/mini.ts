import { Hono } from 'hono';
import { requireSession, type AuthVariables } from '../auth.js';
import { lazy, lazySchema, readJson } from '../json.js';
import type { SessionManager } from '../../sessions/sessions.js';
import { toLoginResponse, toPublicUser } from '../../users/profile.js';
import { decryptForSession, type DecryptDeps } from '../../flows/mini/decrypt.js';
import { miniLogin, type MiniLoginDeps } from '../../flows/mini/login.js';
import { savePhoneNumber, type PhoneDeps } from '../../flows/mini/phone.js';
import type { MeResponse } from '../../../../../shared/api.js';

// zod/mini, in a chunk of its own: a cold instance's first request is usually a login (login-body.ts).
// Imported once (an import() per request would resolve the module again on every login).
const LoginBody = lazy(() => import('./login-body.js').then((m) => m.LoginBody));

const DecryptBody = lazySchema((z) =>
  z.object({
    encryptedData: z.string().min(1).max(8192),
    iv: z.string().min(1).max(64),
    rawData: z.string().max(4096).optional(),
    signature: z.string().max(64).optional(),
  }),
);

/** getPhoneNumber's code (also read by /me/phone, routes/me.ts) */
export const PhoneBody = lazySchema((z) => z.object({ code: z.string().regex(/^[A-Za-z0-9_-]{8,256}$/, 'must be e.detail.code from getPhoneNumber') }));

export function miniRoutes(deps: MiniLoginDeps & { decrypt: DecryptDeps; phone: PhoneDeps; sessions: SessionManager }) {
  return new Hono<{ Variables: AuthVariables }>()
    .post('/login', async (c) => {
      const body = await readJson(c, LoginBody);
      const result = await miniLogin(deps, body);
      return c.json(toLoginResponse(result), 200, { 'cache-control': 'no-store' });
    })
    .post('/decrypt', requireSession(deps.sessions), async (c) => {
      const body = await readJson(c, DecryptBody);
      const data = await decryptForSession(deps.decrypt, c.var.session, body);
      return c.json({ data }, 200, { 'cache-control': 'no-store' });
    })
    // the code comes from THIS mini-program's getPhoneNumber button: bound with its own access_token
    .post('/phone', requireSession(deps.sessions), async (c) => {
      const { code } = await readJson(c, PhoneBody);
      const user = await savePhoneNumber(deps.phone, c.var.user, code, new Date());
      return c.json<MeResponse>({ user: toPublicUser(user) }, 200, { 'cache-control': 'no-store' });
    });
}
