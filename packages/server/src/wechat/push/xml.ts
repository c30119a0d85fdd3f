import type { XMLParser } from 'fast-xml-parser';

/**
 * The server URL's XML: WeChat sends one flat `<xml>` element of CDATA/text children
 * (docs/WECHAT.md, facts §8). Anything else is refused before it is parsed:
 * - more than MAX_PUSH_BYTES (a real event is well under 2 KB; a compatible-mode one, plaintext
 *   and ciphertext together, about 3× that — docs/SECURITY.md "Push endpoint cost"),
 * - any `<!DOCTYPE` / `<!ENTITY` / processing instruction other than the XML declaration, or an
 *   unterminated CDATA section — so an entity bomb is refused by one linear pass, in microseconds,
 *   and entities are never expanded,
 * - nested elements (only `<xml>` with leaf children exists in the messages we handle).
 * Values stay strings (no number parsing: MsgId exceeds 2^53).
 *
 * Every check before the parser is ONE left-to-right pass (scanPushXml): each character is looked
 * at a bounded number of times whatever the input, so a hostile 64 KiB body costs what a real one
 * costs per byte (tests/oa-push-cost.test.ts counts the characters examined).
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

export interface PushXmlScan {
  /** why the markup is refused before any parser sees it; null: nothing forbidden found */
  refused: 'doctype' | 'malformed' | null;
  /** the value of the top-level `<Encrypt>` element (outside any CDATA section); null: none */
  encrypt: string | null;
  /** characters the pass looked at (each indexOf's searched range): the test's measure of linearity */
  examined: number;
}

const CDATA_OPEN = '<![CDATA[';
const CDATA_CLOSE = ']]>';

/**
 * One left-to-right pass over a push body, no parser, no backtracking regex: it skips CDATA
 * sections (a `<` inside one is text), refuses `<!DOCTYPE`/`<!ENTITY`/comments and processing
 * instructions other than `<?xml …?>`, refuses an unterminated CDATA section, and picks out the
 * `<Encrypt>` element that is markup — not text a person typed into a message, which compatible
 * mode carries in a CDATA section beside it. The position only moves forward and every search
 * starts where the last one ended, so the work is linear in the body's length.
 */
export function scanPushXml(text: string): PushXmlScan {
  let examined = 0;
  let encrypt: string | null = null;
  // text.indexOf(needle, from), counting the characters it had to look at
  const find = (needle: string, from: number) => {
    const at = text.indexOf(needle, from);
    examined += (at < 0 ? text.length : at + needle.length) - from;
    return at;
  };
  const refuse = (refused: 'doctype' | 'malformed'): PushXmlScan => ({ refused, encrypt: null, examined });
  let i = 0;
  for (;;) {
    const lt = find('<', i);
    if (lt < 0) break;
    if (text.startsWith(CDATA_OPEN, lt)) {
      const end = find(CDATA_CLOSE, lt + CDATA_OPEN.length);
      if (end < 0) return refuse('malformed');
      i = end + CDATA_CLOSE.length;
      continue;
    }
    if (text.startsWith('<!', lt)) return refuse('doctype');
    if (text.startsWith('<?', lt) && !(text.startsWith('<?xml', lt) && /[\s?]/.test(text.charAt(lt + 5)))) return refuse('doctype');
    if (text.startsWith('<Encrypt>', lt)) {
      if (encrypt !== null) return refuse('malformed'); // two: which one was signed is not ours to guess
      let from = lt + '<Encrypt>'.length;
      let value: string;
      if (text.startsWith(CDATA_OPEN, from)) {
        const end = find(CDATA_CLOSE, from + CDATA_OPEN.length);
        if (end < 0) return refuse('malformed');
        value = text.slice(from + CDATA_OPEN.length, end);
        from = end + CDATA_CLOSE.length;
      } else {
        const end = find('<', from);
        if (end < 0) return refuse('malformed');
        value = text.slice(from, end);
        from = end;
      }
      if (!text.startsWith('</Encrypt>', from)) return refuse('malformed');
      encrypt = value;
      i = from + '</Encrypt>'.length;
      continue;
    }
    i = lt + 1;
  }
  return { refused: null, encrypt, examined };
}

/**
 * The ciphertext of an encrypted push (safe or compatible mode), found WITHOUT parsing the body:
 * the XML form by scanPushXml, the JSON form (`{"ToUserName":…,"Encrypt":"…"}`, facts §9) by two
 * string searches. Only this value is signed (msg_signature); nothing else of the outer body is ever
 * used — in compatible mode its plaintext fields are ignored and the message is the decrypted one.
 * Throws PushXmlError when the body is too large, forbidden or has no single Encrypt value.
 */
export function extractEncrypt(text: string): string {
  if (text.length > MAX_PUSH_BYTES) throw new PushXmlError('too_large');
  if (text.trimStart().startsWith('{')) {
    const key = text.indexOf('"Encrypt"');
    if (key < 0 || text.indexOf('"Encrypt"', key + 1) >= 0) throw new PushXmlError('malformed');
    const m = /\s*:\s*"(?:[A-Za-z0-9+/=]|\\\/)*"/y;
    m.lastIndex = key + '"Encrypt"'.length;
    const found = m.exec(text);
    if (!found) throw new PushXmlError('malformed');
    return found[0].slice(found[0].indexOf('"') + 1, -1).replaceAll('\\/', '/');
  }
  const scan = scanPushXml(text);
  if (scan.refused) throw new PushXmlError(scan.refused);
  if (scan.encrypt === null) throw new PushXmlError('malformed');
  return scan.encrypt.trim();
}

export async function parsePushXml(text: string): Promise<Record<string, string>> {
  if (Buffer.byteLength(text, 'utf8') > MAX_PUSH_BYTES) throw new PushXmlError('too_large');
  const scan = scanPushXml(text);
  if (scan.refused) throw new PushXmlError(scan.refused);
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
