// The one Vercel function. vercel.json rewrites every /api/* path (and the MP_verify file) here;
// the Hono app routes it. Server code lives in api/_lib (underscore folders are not turned into functions).
//
// Runtime: @vercel/node, pinned in package.json to the version the pinned vercel CLI builds with.
// Its launcher serves a default export whose `fetch` is a function as a Web handler (Request →
// Response); @vercel/node's published types cover only the (req, res) shape, so the entry states
// the Web shape here and tests/vercel-runtime.test.ts checks the launcher still accepts it.
import { createFunctionApp } from './_lib/main.js';

export interface VercelFetchEntry {
  fetch(request: Request): Response | Promise<Response>;
}

// A configuration problem answers every request with a JSON 503 naming it, instead of crashing here.
const app = createFunctionApp(process.env);

export default app satisfies VercelFetchEntry;
