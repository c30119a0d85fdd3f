/**
 * The checks a deployment must pass before it serves anyone (issue 12, "fail the deploy, not the
 * users"): every configuration key parses, MongoDB answers, the indexes exist, and — when asked —
 * WeChat accepts the AppID/AppSecret (one stable_token call, normal mode: it never invalidates the
 * token other holders use, docs/WECHAT.md "Access token"). Used by the Vercel build step
 * (scripts/deploy-check.ts) and by `npm run doctor`'s reachability probe.
 * Nothing secret is printed: no AppSecret, no token, no password from MONGODB_URI.
 */
import { MongoClient } from 'mongodb';
import { describeDeployment, startupProblems, type Config, type DeploymentKind } from '../../packages/server/src/config.js';
import { parseSealKeys } from '../../packages/server/src/crypto/seal.js';
import { redact, silentLogger } from '../../packages/server/src/log.js';
import { relayHeaders } from '../../packages/server/src/main.js';
import { loadConfig, type Env } from '../../packages/server/src/env.js';
import { clientOptions, missingIndexes } from '../../packages/server/src/store/mongo.js';
import { stableToken } from '../../packages/server/src/wechat/auth/stable_token.js';
import { createTemporaryQrCode } from '../../packages/server/src/wechat/oa/qrcode_create.js';
import { WechatApiError, createTransport } from '../../packages/server/src/wechat/transport.js';

export type CheckStatus = 'ok' | 'fail' | 'warn';
export interface CheckLine {
  status: CheckStatus;
  text: string;
}

export interface DeployCheckResult {
  deployment: DeploymentKind;
  lines: CheckLine[];
  ok: boolean;
}

/** MONGODB_URI without user name and password, for messages. */
export function mongoHost(uri: string): string {
  return /^mongodb(?:\+srv)?:\/\/(?:[^@/]*@)?([^/?]+)/.exec(uri)?.[1] ?? '(unparsable MONGODB_URI)';
}

/** Every key parses: the production guard's checks plus the seal keys' own parser. */
export function checkKeys(config: Config): CheckLine[] {
  const problems = startupProblems({ ...config, deployment: config.deployment === 'development' ? 'production' : config.deployment });
  if (config.sealKeys) {
    try {
      parseSealKeys(config.sealKeys);
    } catch (error) {
      problems.push(`SESSION_KEY_ENCRYPTION_KEYS does not parse: ${(error as Error).message}`);
    }
  }
  if (problems.length === 0) return [{ status: 'ok', text: 'configuration: every key parses' }];
  return problems.map((text) => ({ status: 'fail' as const, text }));
}

/** Reach MongoDB (one ping) and compare its indexes with what `npm run migrate` creates. */
export async function probeMongo(config: Config): Promise<CheckLine[]> {
  if (!config.mongodbUri) return [];
  const host = mongoHost(config.mongodbUri);
  const client = new MongoClient(config.mongodbUri, clientOptions(config.mongodbUri));
  const started = Date.now();
  try {
    const db = client.db(config.mongodbDb);
    try {
      await db.command({ ping: 1 });
    } catch (error) {
      return [{ status: 'fail', text: `MongoDB at ${host} is unreachable (${Date.now() - started} ms): ${redact((error as Error).message)} — check the URI, the cluster's IP access list and that it is running` }];
    }
    const lines: CheckLine[] = [{ status: 'ok', text: `MongoDB at ${host} answers (database ${config.mongodbDb}, ${Date.now() - started} ms)` }];
    const missing = await missingIndexes(db);
    if (missing.length) {
      lines.push({ status: 'fail', text: `MongoDB database ${config.mongodbDb} lacks ${missing.length} index(es): ${missing.join(', ')} — run \`npm run migrate\` with this MONGODB_URI (docs/DEPLOY.md, "migrate")` });
    } else {
      lines.push({ status: 'ok', text: 'MongoDB indexes are in place' });
    }
    return lines;
  } catch (error) {
    return [{ status: 'fail', text: `MongoDB at ${host}: ${redact((error as Error).message)}` }];
  } finally {
    await client.close().catch(() => {});
  }
}

/** Where stable_token goes: the token relay (WECHAT_TOKEN_BASE, with its headers) when set, else WeChat. */
function tokenTransport(config: Config, fetchImpl?: typeof fetch) {
  const baseUrls = config.wechatTokenBaseUrl ? [config.wechatTokenBaseUrl] : config.wechatBaseUrls;
  const headers = config.wechatTokenBaseUrl ? relayHeaders(config) : undefined;
  return {
    transport: createTransport({ baseUrls, timeoutMs: config.wechatTimeoutMs, logger: silentLogger, fetch: fetchImpl, headers }),
    via: config.wechatTokenBaseUrl ? `the relay ${config.wechatTokenBaseUrl}` : baseUrls[0],
  };
}

/** One stable_token call (normal mode): does WeChat accept this AppID and AppSecret from here? */
export async function probeWechat(config: Config, fetchImpl?: typeof fetch): Promise<CheckLine[]> {
  const { transport, via } = tokenTransport(config, fetchImpl);
  try {
    const token = await stableToken(transport, config.mini, false);
    return [{ status: 'ok', text: `WeChat accepts AppID ${config.mini.appid} and its AppSecret (stable_token via ${via}, expires_in ${token.expiresIn} s)` }];
  } catch (error) {
    if (error instanceof WechatApiError && error.errcode === 40164) {
      // The build machine's IP is not the function's egress IP: this says nothing about production.
      return [{ status: 'warn', text: `WeChat's IP whitelist refused this machine (40164): the AppSecret cannot be verified from here; the function's egress needs the whitelist off, Vercel static IPs or WECHAT_TOKEN_BASE (docs/DEPLOY.md, "IP whitelist")` }];
    }
    if (error instanceof WechatApiError) {
      const hint = [40001, 40125, 40013, 40243].includes(error.errcode) ? ' — WECHAT_MINI_APPID/WECHAT_MINI_SECRET are wrong, reset or frozen' : '';
      return [{ status: 'fail', text: `WeChat refused stable_token via ${via}: errcode ${error.errcode} ${error.errmsg}${hint}` }];
    }
    return [{ status: 'fail', text: `WeChat stable_token via ${via} failed: ${redact((error as Error).message)}` }];
  }
}

/**
 * Follow-to-login (关注公众号登录) needs cgi-bin/qrcode/create, which WeChat grants only to a
 * verified service account (认证服务号): anyone else gets 48001 (docs/WECHAT.md "Parametric QR
 * codes"). With follow-to-login configured (WECHAT_OA_APPID/SECRET + WECHAT_OA_TOKEN), one
 * temporary QR (60 s, scene doctor_check — one call from the daily quota) tells the operator whether
 * the account can; it can't → a warning (the PC login then shows our own QR), never a failure.
 */
export async function probeFollowQr(config: Config, fetchImpl?: typeof fetch): Promise<CheckLine[]> {
  const oa = config.oa?.appid && config.oa.secret ? config.oa : null;
  if (!oa || !config.oaServer) return [];
  const tokens = tokenTransport(config, fetchImpl).transport;
  const transport = createTransport({ baseUrls: config.wechatBaseUrls, timeoutMs: config.wechatTimeoutMs, logger: silentLogger, fetch: fetchImpl });
  try {
    const { accessToken } = await stableToken(tokens, oa, false);
    await createTemporaryQrCode(transport, accessToken, 'doctor_check', 60);
    return [{ status: 'ok', text: `Official account ${oa.appid} can create parametric QR codes: 关注公众号登录 shows WeChat's follow QR` }];
  } catch (error) {
    if (error instanceof WechatApiError && error.errcode === 48001) {
      return [{ status: 'warn', text: `Official account ${oa.appid} cannot create parametric QR codes (qrcode/create 48001 api unauthorized): only a verified service account (认证服务号) can — 关注公众号登录 falls back to our own QR (form own-qr) until the account is a verified service account` }];
    }
    if (error instanceof WechatApiError) return [{ status: 'warn', text: `qrcode/create for official account ${oa.appid} refused: errcode ${error.errcode} ${error.errmsg}${error.errcode === 45009 ? ' (daily quota reached)' : ''} — 关注公众号登录 falls back to our own QR meanwhile` }];
    return [{ status: 'warn', text: `qrcode/create for official account ${oa.appid} failed: ${redact((error as Error).message)}` }];
  }
}

/** Everything the Vercel build step runs: keys, then (only when they parse) MongoDB and optionally WeChat. */
export async function runDeployChecks(env: Env, options: { wechat?: boolean; fetch?: typeof fetch } = {}): Promise<DeployCheckResult> {
  const config = loadConfig(env);
  const lines = checkKeys(config);
  const { ephemeral } = describeDeployment(config);
  if (ephemeral) {
    lines.push({ status: 'warn', text: 'ALLOW_EPHEMERAL_PREVIEW=1 and no MONGODB_URI: this preview runs on a throwaway /tmp embedded store with a random seal key — users and sessions vanish; /api/auth/health says "ephemeral": true' });
  }
  lines.push(...(await probeMongo(config)));
  const keysOk = lines.every((l) => l.status !== 'fail');
  if (options.wechat && keysOk) lines.push(...(await probeWechat(config, options.fetch)));
  return { deployment: config.deployment, lines, ok: lines.every((l) => l.status !== 'fail') };
}

export function formatLines(lines: CheckLine[]): string {
  const mark = { ok: '✓', fail: '✗', warn: '!' } as const;
  return lines.map((l) => `  ${mark[l.status]} ${l.text}`).join('\n');
}
