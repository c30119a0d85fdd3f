import { WechatUnavailableError, type WechatTransport } from '../transport.js';

export type Suggest = 'pass' | 'review' | 'risky';

/** security.msgSecCheck v2 — POST /wxa/msg_sec_check. scene 1 = 资料 (profile). */
export async function msgSecCheck(
  transport: WechatTransport,
  accessToken: string,
  input: { content: string; openid: string; scene: 1 | 2 | 3 | 4 },
): Promise<{ suggest: Suggest; label: number }> {
  const body = await transport.postJson<{ result?: { suggest?: string; label?: number } }>(
    '/wxa/msg_sec_check',
    { access_token: accessToken },
    { content: input.content, version: 2, scene: input.scene, openid: input.openid },
  );
  const suggest = body.result?.suggest;
  if (suggest !== 'pass' && suggest !== 'review' && suggest !== 'risky') {
    throw new WechatUnavailableError('/wxa/msg_sec_check', 'bad_body', 'reply without result.suggest');
  }
  return { suggest, label: Number(body.result?.label ?? 0) };
}
