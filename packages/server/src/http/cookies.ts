import type { Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';

/**
 * The API's cookies, written once: every one is HttpOnly, SameSite=Lax, scoped to its door's path
 * under the base path, and Secure in production or when the request came over https (directly or
 * through a proxy that says so). The browser doors (routes/oauth.ts) and PC login (routes/pc.ts)
 * keep their state, attempt, confirmation and follow-QR keys in them.
 */
export interface CookieJar {
  get(c: Context, name: string): string | undefined;
  /** sets `name`; `maxAgeSeconds` absent: a session cookie */
  set(c: Context, name: string, value: string, maxAgeSeconds?: number): void;
  clear(c: Context, name: string): void;
}

/** A cookie's value as the browser sent it (reading needs no settings). */
export function readCookie(c: Context, name: string): string | undefined {
  return getCookie(c, name);
}

export function isSecureRequest(c: Context, production: boolean): boolean {
  return production || new URL(c.req.url).protocol === 'https:' || c.req.header('x-forwarded-proto') === 'https';
}

export function cookieJar(settings: { path: string; production: boolean }): CookieJar {
  const options = (c: Context, maxAge?: number) => ({
    httpOnly: true,
    sameSite: 'Lax' as const,
    path: settings.path,
    secure: isSecureRequest(c, settings.production),
    ...(maxAge === undefined ? {} : { maxAge }),
  });
  return {
    get: readCookie,
    set: (c, name, value, maxAge) => setCookie(c, name, value, options(c, maxAge)),
    clear: (c, name) => void deleteCookie(c, name, options(c)),
  };
}
