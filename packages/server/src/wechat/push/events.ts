/**
 * Event parsing (wechatpy's "events" family): the flat fields of a push → one typed message.
 * Only what follow-to-login needs is distinguished; everything else is `other` (answered `success`).
 *   subscribe + EventKey qrscene_<scene>  → a new follower scanned a parametric QR (§8)
 *   SCAN + EventKey <scene>               → an existing follower scanned it
 */
export interface PushCommon {
  /** the official account's gh_ id */
  toUser: string;
  /** the person's openid under this official account */
  fromUser: string;
  createTime: number;
  msgId: string | null;
}

export type PushMessage =
  | (PushCommon & { kind: 'qr_scan'; scene: string; newFollower: boolean; ticket: string | null })
  | (PushCommon & { kind: 'subscribe' })
  | (PushCommon & { kind: 'unsubscribe' })
  | (PushCommon & { kind: 'other'; msgType: string; event: string | null });

export class PushMessageError extends Error {
  constructor(readonly field: string) {
    super(`push message without a valid ${field}`);
    this.name = 'PushMessageError';
  }
}

export function parsePushMessage(fields: Record<string, string>): PushMessage {
  const toUser = fields.ToUserName ?? '';
  const fromUser = fields.FromUserName ?? '';
  const createTime = Number(fields.CreateTime);
  if (!toUser) throw new PushMessageError('ToUserName');
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(fromUser)) throw new PushMessageError('FromUserName');
  if (!/^\d{1,12}$/.test(fields.CreateTime ?? '')) throw new PushMessageError('CreateTime');
  const msgId = fields.MsgId && /^\d{1,24}$/.test(fields.MsgId) ? fields.MsgId : null;
  const common: PushCommon = { toUser, fromUser, createTime, msgId };
  const msgType = fields.MsgType ?? '';
  if (msgType !== 'event') return { ...common, kind: 'other', msgType, event: null };
  const event = fields.Event ?? '';
  const key = fields.EventKey ?? '';
  const ticket = fields.Ticket || null;
  if (event === 'subscribe') {
    if (key.startsWith('qrscene_') && key.length > 'qrscene_'.length) return { ...common, kind: 'qr_scan', scene: key.slice('qrscene_'.length), newFollower: true, ticket };
    return { ...common, kind: 'subscribe' };
  }
  if (event === 'SCAN' && key) return { ...common, kind: 'qr_scan', scene: key, newFollower: false, ticket };
  if (event === 'unsubscribe') return { ...common, kind: 'unsubscribe' };
  return { ...common, kind: 'other', msgType, event };
}

/**
 * The dedupe key §8 recommends — MsgId for ordinary messages, FromUserName + CreateTime for events —
 * with the scene added for QR scans: a retry repeats the body exactly, while one person scanning two
 * login QR codes within the same second is two events, not a retry.
 */
export function dedupeKey(message: PushMessage): string {
  if (message.msgId) return `msg:${message.msgId}`;
  const base = `evt:${message.fromUser}:${message.createTime}`;
  return message.kind === 'qr_scan' ? `${base}:${message.newFollower ? 'subscribe' : 'SCAN'}:${message.scene}` : base;
}
