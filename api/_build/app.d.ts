// The type of api/_build/app.js, which `npm run build:api` (scripts/bundle-api.mjs) generates from
// api/_lib/vercel.ts; `vercel build` runs it first (vercel.json buildCommand). app.js is not committed.
import type { createFunctionApp } from '../_lib/main.js';

declare const app: ReturnType<typeof createFunctionApp>;
export default app;
