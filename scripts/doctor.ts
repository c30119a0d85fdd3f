// `npm run doctor`: the production guard's checks for any environment, plus a reachability probe.
import { checkConfig } from '../packages/server/src/config.js';
import { isProduction, loadConfig } from '../packages/server/src/env.js';
import { formatLines, probeFollowQr, probeMongo, probeWechat } from './lib/deploy-check.js';

const config = loadConfig(process.env);
const wechatProbe = process.argv.includes('--wechat');
const { problems, notes } = checkConfig(config);
const where = isProduction(process.env) ? 'production' : `development (NODE_ENV=${process.env.NODE_ENV ?? 'unset'})`;
console.log(`Environment: ${where}`);
console.log(`Store: ${config.mongodbUri ? `MongoDB (${config.mongodbDb})` : `embedded (${config.dataDir}/store.json)`}`);
console.log(`WeChat API: ${config.wechatBaseUrls.join(' → ')} (timeout ${config.wechatTimeoutMs} ms)`);
console.log(`Mini-program AppID: ${config.mini.appid || '(unset)'}; AppSecret: ${config.mini.secret ? 'set' : '(unset)'}`);
console.log(`session_key encryption keys: ${config.sealKeys ? config.sealKeys.split(',').map((k) => k.split(':')[0]).join(', ') : '(unset: a development key is generated)'}`);
console.log('');
if (problems.length === 0) console.log('✓ ready for production');
else {
  console.log(`${problems.length} problem(s) for production${isProduction(process.env) ? ' — the server will refuse to start' : ' (fine for development with the simulator)'}:`);
  for (const p of problems) console.log(`  ✗ ${p}`);
}
for (const n of notes) console.log(`  ! ${n}`);
if (config.oa && config.oaServer && !wechatProbe) {
  console.log('  ! 关注公众号登录 needs a verified service account (认证服务号) for parametric QR codes (else qrcode/create answers 48001 and the PC shows our own QR): `npm run doctor -- --wechat` checks it');
}
process.exitCode = problems.length && isProduction(process.env) ? 1 : 0;

// Reachability probe (the same as the Vercel build step's): MongoDB answers and has its indexes;
// with --wechat, one stable_token call (normal mode) checks the AppID/AppSecret from this machine,
// and with follow-to-login configured one qrcode/create call says whether the official account
// may make parametric QR codes (48001 unless it is a verified service account, 认证服务号).
const probes = [...(await probeMongo(config)), ...(wechatProbe ? [...(await probeWechat(config)), ...(await probeFollowQr(config))] : [])];
console.log('');
console.log(probes.length ? `Reachability:\n${formatLines(probes)}` : 'Reachability: nothing to probe (MONGODB_URI unset; add -- --wechat to call stable_token once)');
if (probes.some((p) => p.status === 'fail')) process.exitCode = 1;
