// Issue 20 part 4: "state the supported Node range in the package's docs, tested at both ends you claim".
// CI has one Node, so each package's readme states its `engines` range and names the ONE Node it was
// tested on — this test runs on that Node and fails when the docs and the Node running them drift apart
// (a CI Node upgrade must update the sentence, not leave a claim nobody checked).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..');
const PACKAGES = ['packages/server', 'packages/sim', 'packages/wlu-wxlogin'];
const NODE = process.versions.node;
/** every Node version a text says it was "tested on … only", deduplicated */
const testedNodes = (text: string) => [...new Set([...text.matchAll(/tested on (\d+\.\d+\.\d+) only/g)].map((m) => m[1]))];

describe.each(PACKAGES)('%s: the Node range in its readme', (dir) => {
  const pkg = JSON.parse(readFileSync(join(ROOT, dir, 'package.json'), 'utf8')) as { engines?: { node?: string } };
  const readme = readFileSync(join(ROOT, dir, 'readme.md'), 'utf8');

  it('engines.node is a lower bound this Node satisfies, and the readme states that bound', () => {
    const bound = /^>=(\d+)\.(\d+)$/.exec(pkg.engines?.node ?? '');
    expect(bound, `${dir}/package.json engines.node`).not.toBeNull();
    const [major, minor] = NODE.split('.').map(Number) as [number, number];
    const [min, minMinor] = [Number(bound![1]), Number(bound![2])];
    expect(major > min || (major === min && minor >= minMinor), `Node ${NODE} satisfies ${pkg.engines!.node}`).toBe(true);
    expect(readme).toMatch(new RegExp(`(>=|≥) ?${min}\\.${minMinor}\\b`));
  });

  it(`the readme says it was tested on Node ${NODE} only (the Node running this test)`, () => {
    expect(testedNodes(readme)).toEqual([NODE]);
  });
});

it('docs/INTEGRATE.md names the same single tested Node', () => {
  expect(testedNodes(readFileSync(join(ROOT, 'docs/INTEGRATE.md'), 'utf8'))).toEqual([NODE]);
});
