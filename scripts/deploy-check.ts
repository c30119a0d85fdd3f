// `npm run check:deploy` — the Vercel build step runs it before building (vercel.json buildCommand),
// for Production and Preview: a deployment whose configuration would refuse or fail users fails
// to build instead, with the reason. On a mainland host run it before `npm start`.
// Also checks WeChat (one stable_token call) with --wechat or DEPLOY_CHECK_WECHAT=1.
import { deploymentKind } from '../packages/server/src/env.js';
import { formatLines, runDeployChecks } from './lib/deploy-check.js';

const env = process.env;
const forced = process.argv.includes('--force');
const target = env.VERCEL_ENV ?? (env.NODE_ENV === 'production' ? 'production (NODE_ENV)' : 'unset');
if (deploymentKind(env) === 'development' && !forced) {
  console.log(`deploy check: skipped — not a production or preview build (VERCEL_ENV=${env.VERCEL_ENV ?? 'unset'}, NODE_ENV=${env.NODE_ENV ?? 'unset'}); --force checks anyway`);
  process.exit(0);
}
const result = await runDeployChecks(env, { wechat: process.argv.includes('--wechat') || env.DEPLOY_CHECK_WECHAT === '1' });
console.log(`deploy check for ${result.deployment} (VERCEL_ENV=${target}):`);
console.log(formatLines(result.lines));
if (!result.ok) {
  const where = env.VERCEL
    ? `the ${result.deployment === 'preview' ? 'Preview' : 'Production'} environment variables (Vercel → Project → Settings → Environment Variables), then redeploy`
    : 'the environment of this service, then run this check again';
  console.error(`\n✗ DEPLOYMENT CHECK FAILED: this ${result.deployment} deployment would refuse or fail its users. Fix ${where}. See docs/DEPLOY.md ("Build-step check").`);
  process.exit(1);
}
console.log(`✓ deploy check passed (${result.deployment})`);
