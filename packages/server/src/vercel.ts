// What the Vercel functions serve: the app built from the environment (env.ts optionsFromEnv, the host's mapping). scripts/bundle-api.mjs bundles
// this module (and everything it imports) into api/_build/app.js for api/index.ts and api/avatar.ts.
// A configuration problem answers every request with a JSON 503 naming it, instead of crashing at import.
import { optionsFromEnv } from './env.js';
import { createFunctionApp } from './main.js';

const app = createFunctionApp(optionsFromEnv(process.env));

export default app;
