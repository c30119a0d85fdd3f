// What the Vercel functions serve: the app built from the environment. scripts/bundle-api.mjs bundles
// this module (and everything it imports) into api/_build/app.js for api/index.ts and api/avatar.ts.
import { createServices } from './main.js';

const { app } = createServices(process.env);

export default app;
