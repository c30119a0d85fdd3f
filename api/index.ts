// The Vercel function that serves every /api/* path (vercel.json rewrites them here, and the
// MP_verify file) except the avatar upload and the PC confirmation page. It is a host of the
// server package, exactly as a stranger's would be: the package by name, the options from this
// repository's environment (api/_host.ts). `vercel build` first builds the package's dist
// (`npm run build:api`), then traces node_modules/wlu-wxlogin-server (a workspace link to packages/server).
//
// Runtime: @vercel/node, pinned in package.json to the version the pinned vercel CLI builds with.
// Its launcher serves a default export whose `fetch` is a function as a Web handler (Request →
// Response); tests/vercel-runtime.test.ts checks the launcher still accepts that shape.
import { createWechatLogin } from 'wlu-wxlogin-server';
import { toVercel, type VercelFetchEntry } from 'wlu-wxlogin-server/vercel';
import { optionsFromEnv } from './_host.js';

const entry = toVercel(createWechatLogin(optionsFromEnv(process.env)));

export default entry satisfies VercelFetchEntry;
