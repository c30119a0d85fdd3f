// The phone's PC-login confirmation page only (GET/POST /api/auth/pc/confirm, 确认在电脑上登录？).
// vercel.json rewrites that path here (before the catch-all to /api), so the offline IP-region
// databases the page reads (the ip2region package, ~11 MB, docs/SECURITY.md "QR relay") ship in this
// function alone and the function that serves logins (api/index, which excludes them) stays small
// and never loads them. Same package, same routes.
import { createWechatLogin } from 'wlu-wxlogin-server';
import { toVercel } from 'wlu-wxlogin-server/vercel';
import { optionsFromEnv } from './_host.js';

export default toVercel(createWechatLogin(optionsFromEnv(process.env)));
