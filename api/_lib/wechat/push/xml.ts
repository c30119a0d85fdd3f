import type { XMLParser } from 'fast-xml-parser';

/**
 * The server URL's XML: WeChat sends one flat `<xml>` element of CDATA/text children
 * (docs/WECHAT.md, facts §8). Anything else is refused before it is parsed:
 * - more than MAX_PUSH_BYTES (a real event is well under 2 KB; a safe-mode one about 3× that),
 * - any `<!DOCTYPE` / `<!ENTITY` / processing instruction other than the XML declaration — so an
 *   entity bomb is refused by a string check, in microseconds, and entities are never expanded,
 * - nested elements (only `<xml>` with leaf children exists in the messages we handle).
 * Values stay strings (no number parsing: MsgId exceeds 2^53).
 */
export const MAX_PUSH_BYTES = 64 * 1024;

export class PushXmlError extends Error {
  constructor(readonly reason: 'too_large' | 'doctype' | 'malformed') {
    super(`push XML refused: ${reason}`);
    this.name = 'PushXmlError';
  }
}

// Loaded on the first push only: the parser is most of this module's import cost, and no login needs it.
let parser: Promise<XMLParser> | undefined;
function xmlParser(): Promise<XMLParser> {
  parser ??= import('fast-xml-parser').then(
    ({ XMLParser }) =>
      new XMLParser({
        ignoreAttributes: true,
        parseTagValue: false,
        trimValues: false,
        processEntities: false,
        htmlEntities: false,
        ignoreDeclaration: true,
        ignorePiTags: true,
        cdataPropName: false,
      }),
  );
  return parser;
}

export async function parsePushXml(text: string): Promise<Record<string, string>> {
  if (Buffer.byteLength(text, 'utf8') > MAX_PUSH_BYTES) throw new PushXmlError('too_large');
  if (/<!|<\?(?!xml[\s?])/i.test(text.replace(/<!\[CDATA\[[\s\S]*?\]\]>/g, ''))) throw new PushXmlError('doctype');
  const xml = await xmlParser();
  let parsed: unknown;
  try {
    parsed = xml.parse(text, true);
  } catch {
    throw new PushXmlError('malformed');
  }
  const root = (parsed as { xml?: unknown } | null)?.xml;
  if (root === null || typeof root !== 'object' || Array.isArray(root)) throw new PushXmlError('malformed');
  const fields: Record<string, string> = {};
  for (const [name, value] of Object.entries(root as Record<string, unknown>)) {
    if (name === '#text') {
      // whitespace between elements; text directly inside <xml> is not a message
      if (typeof value === 'string' && !value.trim()) continue;
      throw new PushXmlError('malformed');
    }
    if (typeof value === 'string') fields[name] = value;
    else if (value === '' || value === undefined) fields[name] = '';
    else throw new PushXmlError('malformed');
  }
  return fields;
}

/**
 * XML, or the JSON form some consoles offer (docs/WECHAT.md, facts §9, vector D): a flat object whose
 * values are strings or numbers. Same size limit.
 */
export async function parsePushFields(text: string): Promise<Record<string, string>> {
  if (!text.trimStart().startsWith('{')) return parsePushXml(text);
  if (Buffer.byteLength(text, 'utf8') > MAX_PUSH_BYTES) throw new PushXmlError('too_large');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new PushXmlError('malformed');
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new PushXmlError('malformed');
  const fields: Record<string, string> = {};
  for (const [k, v] of Object.entries(json)) {
    if (typeof v === 'string' || typeof v === 'number') fields[k] = String(v);
    else throw new PushXmlError('malformed');
  }
  return fields;
}

function cdata(value: string): string {
  return `<![CDATA[${value.replaceAll(']]>', ']]]]><![CDATA[>')}]]>`;
}

/** A passive text reply (§8): To/From swapped relative to the inbound message. */
export function textReplyXml(toUser: string, fromUser: string, createTime: number, content: string): string {
  return `<xml><ToUserName>${cdata(toUser)}</ToUserName><FromUserName>${cdata(fromUser)}</FromUserName><CreateTime>${createTime}</CreateTime><MsgType>${cdata('text')}</MsgType><Content>${cdata(content)}</Content></xml>`;
}

/** The safe-mode reply envelope (§9, the exact shape wechatpy writes). */
export function encryptedReplyXml(reply: { encrypt: string; msgSignature: string; timestamp: string; nonce: string }): string {
  return `<xml>\n<Encrypt>${cdata(reply.encrypt)}</Encrypt>\n<MsgSignature>${cdata(reply.msgSignature)}</MsgSignature>\n<TimeStamp>${reply.timestamp}</TimeStamp>\n<Nonce>${cdata(reply.nonce)}</Nonce>\n</xml>`;
}
