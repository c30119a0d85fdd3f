import { Hono } from 'hono';

/**
 * The official account's domain check (JS 接口安全域名 / 网页授权域名): WeChat fetches
 * `https://<domain>/MP_verify_<token>.txt` and expects the body `<token>` (docs/WECHAT.md,
 * "Domain verification file"). The token comes from configuration (WECHAT_MP_VERIFY), so nothing is
 * uploaded to a serverless deployment; vercel.json rewrites the path to the function before the
 * SPA fallback would answer it with index.html.
 */
export function verifyFileRoutes(tokens: readonly string[]) {
  return new Hono().get('/:file{MP_verify_[A-Za-z0-9]+\\.txt}', (c, next) => {
    const token = c.req.param('file').slice('MP_verify_'.length, -'.txt'.length);
    if (!tokens.includes(token)) return next();
    return c.text(token, 200, { 'cache-control': 'public, max-age=300' });
  });
}
