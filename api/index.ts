// The one Vercel function. vercel.json rewrites every /api/* path here; the Hono app routes it.
// Server code lives in api/_lib (underscore folders are not turned into functions).
import { createFunctionApp } from './_lib/main.js';

// A configuration problem answers every request with a JSON 503 naming it, instead of crashing here.
const app = createFunctionApp(process.env);

export default app;
