// Avatar uploads only. vercel.json rewrites /api/me/avatar here (before the catch-all to /api), so
// image re-encoding (sharp + libvips, ~19 MB) ships in this function alone and the function that
// serves logins (api/index, which excludes sharp) stays small and starts fast. Same app, same routes.
import { createServices } from './_lib/main.js';

const { app } = createServices(process.env);

export default app;
