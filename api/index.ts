// The Vercel function that serves every /api/* path (vercel.json rewrites them here) except the
// avatar upload. It serves the bundled app (api/_build/app.js, written by `npm run build:api`, which
// `vercel build` runs first): one small file to load instead of hundreds; see scripts/bundle-api.mjs.
// The server code lives in api/_lib (underscore folders are not turned into functions); locally,
// scripts/serve.ts and the tests run that source directly.
import app from './_build/app.js';

export default app;
