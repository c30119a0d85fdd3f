import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

/** Issue 18 item 8: docs/DEPLOY.md reads in order and its runbook agrees with §13. */
const deploy = readFileSync(new URL('../docs/DEPLOY.md', import.meta.url), 'utf8');

describe('docs/DEPLOY.md', () => {
  it('every section is numbered, in order, and listed in the contents', () => {
    const headings = [...deploy.matchAll(/^## (.+)$/gm)].map((m) => m[1]!);
    const numbers = headings.map((h) => Number(/^(\d+)\. /.exec(h)?.[1] ?? NaN));
    expect(headings.filter((_, i) => Number.isNaN(numbers[i])), 'unnumbered sections').toEqual([]);
    expect(numbers).toEqual(numbers.map((_, i) => i + 1));
    const contents = deploy.slice(deploy.indexOf('Contents / 目录'), deploy.indexOf('\n---'));
    const listed = [...contents.matchAll(/^(\d+)\. /gm)].map((m) => Number(m[1]));
    expect(listed).toEqual(numbers);
  });

  it('every section has text under its own heading (none is empty, none inherits another section)', () => {
    const bodies = deploy.split(/^## .+$/m).slice(1);
    for (const body of bodies) expect(body.replace(/^---$/gm, '').trim().length).toBeGreaterThan(40);
  });

  it('the runbook rotates the EncodingAESKey the way §13 does (the product does receive pushes)', () => {
    const runbook = deploy.slice(deploy.indexOf('## 11.'), deploy.indexOf('## 12.'));
    expect(runbook).not.toMatch(/does not receive pushes/);
    expect(runbook).toContain('WECHAT_OA_ENCODING_AES_KEY_PREVIOUS');
    expect(deploy).not.toMatch(/To rotate: prepend a new/);
  });
});
