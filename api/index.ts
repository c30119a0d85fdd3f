// The Vercel function that serves every /api/* path (vercel.json rewrites them here, and the
// MP_verify file) except the avatar upload. It serves the bundled app (api/_build/app.js, written by
// `npm run build:api`, which `vercel build` runs first): one small file to load instead of hundreds;
// see scripts/bundle-api.mjs. The server code lives in api/_lib (underscore folders are not turned
// into functions); locally, scripts/serve.ts and the tests run that source directly.
//
// Runtime: @vercel/node, pinned in package.json to the version the pinned vercel CLI builds with.
// Its launcher serves a default export whose `fetch` is a function as a Web handler (Request →
// Response); @vercel/node's published types cover only the (req, res) shape, so the entry states
// the Web shape here and tests/vercel-runtime.test.ts checks the launcher still accepts it.
import app from './_build/app.js';

export interface VercelFetchEntry {
  fetch(request: Request): Response | Promise<Response>;
}

export default app satisfies VercelFetchEntry;
