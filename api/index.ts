// The one Vercel function. vercel.json rewrites every /api/* path here; the Hono app routes it.
// Server code lives in api/_lib (underscore folders are not turned into functions).
import { createServices } from './_lib/main.js';

const { app } = createServices(process.env);

export default app;
