import type { Context } from 'hono';
import { rid } from './ids.js';
import type { SimApp } from './state.js';

/** errmsg prefixes as WeChat sends them (docs/WECHAT.md "Server API errors the API maps"); a `, rid: …` suffix is appended. */
export const ERRMSG: Record<number, string> = {
  [-1]: 'system error',
  40001: 'invalid credential, access_token is invalid or not latest',
  41001: 'access_token missing',
  42001: 'access_token expired',
  42007: 'access_token and refresh_token exception',
  43002: 'require POST method',
  48001: 'api unauthorized',
  45009: 'reach max api daily quota limit',
  47001: 'data format error',
  40002: 'invalid grant_type',
  40003: 'invalid openid',
  40014: 'invalid access_token',
  41009: 'missing openid',
  40013: 'invalid appid',
  40029: 'invalid code',
  40030: 'invalid refresh_token',
  41003: 'refresh_token missing',
  42002: 'refresh_token expired',
  40125: 'invalid appsecret',
  40163: 'code been used',
  40226: 'code blocked',
  41002: 'appid missing',
  41004: 'appsecret missing',
  41008: 'missing code',
  45011: 'api minute-quota reach limit mustslower retry next minute',
};

/**
 * The content type WeChat labels its JSON with (docs/WECHAT.md "Server API errors the API maps"):
 * the `sns/*` APIs (jscode2session, sns/oauth2/*, sns/userinfo, sns/auth) answer `text/plain`, the
 * `cgi-bin/*` and `wxa/*` APIs `application/json; encoding=utf-8`. A client must read the body as
 * JSON whatever the header says.
 */
export function wxContentType(path: string): string {
  return path.startsWith('/sns/') ? 'text/plain' : 'application/json; encoding=utf-8';
}

export function wxJson(c: Context, body: unknown, status = 200): Response {
  return c.body(JSON.stringify(body), status as 200, { 'content-type': wxContentType(c.req.path) });
}

/** GET on an API WeChat only takes by POST: 43002 require POST method. */
export function requirePost(c: Context): Response {
  return wxError(c, 43002);
}

export function wxError(c: Context, errcode: number, errmsg?: string): Response {
  return wxJson(c, { errcode, errmsg: `${errmsg ?? ERRMSG[errcode] ?? 'unknown error'}, rid: ${rid()}` });
}

/** A POST API's JSON body as WeChat reads it: a body that is not JSON answers 47001 data format error. */
export async function readWxJson<T>(c: Context): Promise<T | Response> {
  try {
    return JSON.parse(await c.req.text()) as T;
  } catch {
    return wxError(c, 47001);
  }
}

/**
 * The parameter and credential checks every code exchange makes (jscode2session,
 * sns/oauth2/access_token), in WeChat's order. Returns the app and code, or the error reply.
 */
export function checkCodeExchange(
  c: Context,
  apps: Map<string, SimApp>,
  query: Record<string, string>,
  codeParam: 'js_code' | 'code',
): { app: SimApp; code: string } | Response {
  const { appid, secret, grant_type: grantType } = query;
  const code = query[codeParam];
  if (!appid) return wxError(c, 41002);
  if (!secret) return wxError(c, 41004);
  if (!code) return wxError(c, 41008);
  if (grantType !== 'authorization_code') return wxError(c, 40002);
  const app = apps.get(appid);
  if (!app) return wxError(c, 40013);
  if (app.secret !== secret) return wxError(c, 40125);
  return { app, code };
}
