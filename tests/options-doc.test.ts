// Issue 20 §5: "configuration reference generated from or checked against the option types".
// Every option of ServerOptions (config.ts, with its JSDoc) is a row of packages/server/readme.md's
// table, with its @default; no row names an option that does not exist.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { optionsTable, serverOptionDocs } from '../scripts/lib/options-doc.js';

const readme = readFileSync('packages/server/readme.md', 'utf8');
const section = readme.slice(readme.indexOf('## Options'), readme.indexOf('\n## ', readme.indexOf('## Options') + 1));
const rows = new Map([...section.matchAll(/^\| `([\w.]+)` \|(.*)$/gm)].map((m) => [m[1]!, m[2]!]));

describe('the package readme documents every option (packages/server/readme.md)', () => {
  it('has a row for every option, with its default, and none for an option that does not exist', () => {
    const options = serverOptionDocs();
    expect(options.length).toBeGreaterThan(20);
    const missing = options.filter((o) => !rows.has(o.name)).map((o) => o.name);
    expect(missing, 'regenerate the table: npx tsx scripts/lib/options-doc.ts').toEqual([]);
    const stale = [...rows.keys()].filter((name) => !options.some((o) => o.name === name));
    expect(stale).toEqual([]);
    for (const o of options.filter((o) => o.default)) expect(rows.get(o.name), o.name).toContain(o.default!.replace(/\|/g, '\\|'));
  });

  it('every top-level option has JSDoc (the type is the reference)', () => {
    expect(serverOptionDocs().filter((o) => !o.name.includes('.') && !o.doc).map((o) => o.name)).toEqual([]);
  });

  it('the table in the readme is the generated one', () => {
    expect(readme).toContain(optionsTable());
  });
});
