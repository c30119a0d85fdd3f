// Avatar uploads only. vercel.json rewrites /api/auth/me/avatar here (before the catch-all to /api), so
// image re-encoding (sharp + libvips, ~19 MB) ships in this function alone and the function that
// serves logins (api/index, which excludes sharp) stays small and starts fast. Same app, same routes.
import app from './_build/app.js';

export default app;
