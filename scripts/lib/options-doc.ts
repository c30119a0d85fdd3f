// The documented options of the server package, read from `ServerOptions` (packages/server/src/config.ts)
// with the TypeScript API: every property, nested one level (wechat.apiBase, pc.attemptTtlMs, …),
// with its JSDoc text and @default.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import ts from 'typescript';

export interface OptionDoc {
  name: string;
  optional: boolean;
  doc: string;
  default: string | null;
}

export function serverOptionDocs(): OptionDoc[] {
  const file = resolve(import.meta.dirname, '../../packages/server/src/config.ts');
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
  const iface = source.statements.find((s): s is ts.InterfaceDeclaration => ts.isInterfaceDeclaration(s) && s.name.text === 'ServerOptions');
  if (!iface) throw new Error('ServerOptions not found in config.ts');
  const out: OptionDoc[] = [];
  const walk = (members: ts.NodeArray<ts.TypeElement>, prefix: string) => {
    for (const member of members) {
      if (!ts.isPropertySignature(member) || !member.name) continue;
      const name = prefix + member.name.getText(source);
      const jsDoc = ts.getJSDocCommentsAndTags(member).filter(ts.isJSDoc);
      const text = jsDoc.map((d) => (typeof d.comment === 'string' ? d.comment : ts.getTextOfJSDocComment(d.comment) ?? '')).join(' ').replace(/\s+/g, ' ').trim();
      const tag = jsDoc.flatMap((d) => d.tags ?? []).find((t) => t.tagName.text === 'default');
      const def = tag ? (typeof tag.comment === 'string' ? tag.comment : ts.getTextOfJSDocComment(tag.comment) ?? '').replace(/\s+/g, ' ').trim() : null;
      out.push({ name, optional: !!member.questionToken, doc: text, default: def });
      // object-literal options (possibly `| null | undefined`) document their fields too
      const literal = member.type && (ts.isTypeLiteralNode(member.type) ? member.type : ts.isUnionTypeNode(member.type) ? member.type.types.find(ts.isTypeLiteralNode) : undefined);
      if (literal && prefix === '') walk(literal.members, `${name}.`);
    }
  };
  walk(iface.members, '');
  return out;
}

/** The options table of packages/server/readme.md (and docs/INTEGRATE.md): `npx tsx scripts/lib/options-doc.ts`. */
export function optionsTable(): string {
  const cell = (s: string) => s.replace(/\|/g, '\\|');
  const rows = serverOptionDocs().map((o) => `| \`${o.name}\` | ${o.optional ? '' : '**required** '}${cell(o.doc)} | ${o.default ? `\`${cell(o.default)}\`` : '—'} |`);
  return ['| Option 选项 | Meaning 说明 | Default 默认 |', '|---|---|---|', ...rows].join('\n');
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) console.log(optionsTable());
