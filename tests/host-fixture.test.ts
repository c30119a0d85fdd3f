// Issue 20, migration step 1 (docs/design/issue-20-drop-in.md §8): the spike that settles F5/F6/R1
// on a host nobody here wrote — dcloudio's Vue 3 + Vite + TS template (../shared/fixtures/hosts).
// A 2-file uni_module (a page + an easycom component) lives in the host's node_modules and reaches
// src/uni_modules/<id> through a SYMLINK (the CLI "npm + link" route); pages.json gets ONE
// subPackages entry rooted at uni_modules/<id>/pages. Then mp-weixin and H5 are built with the uni
// CLI the way scripts/uni.mjs runs it, and we look at what came out:
//   - mp-weixin: the page sits under the subpackage root, the component in the main package,
//     neither in common/vendor.js (F5: preserveSymlinks keeps the ids under the input dir; F6),
//   - the easycom component is compiled and used by the page (F4),
//   - H5: the page is routed and bundled, and Vue's runtime is in the bundle exactly once.
// Nothing is installed: the temp host's node_modules links to the repository's (see HOST NOTES below).
import { chmodSync, cpSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { files, HAVE_UNI_PRESET as HAVE_FIXTURE, linkNodeModules, rel, UNI_PRESET as FIXTURE, uniBuild as uniBuildIn } from './support/uni-host.js';

const SKIP_REASON = `fixture host not found at ${FIXTURE} (../shared/fixtures/hosts beside the repository, as in the CI clone)`;

const ID = 'wlu-spike'; // F7: author id (≥ 2 letters) + '-' + plugin name
const COMPONENT = 'wlu-spike-badge';
const SUB_ROOT = `uni_modules/${ID}/pages`;

/** The dummy module: exactly two files, in the shape of a real uni_module. */
const MODULE_FILES: Record<string, string> = {
  [`components/${COMPONENT}/${COMPONENT}.vue`]: `<template>
  <view class="wlu-spike-badge">{{ label }}</view>
</template>
<script setup lang="ts">
defineProps<{ label: string }>();
</script>
`,
  'pages/hello/index.vue': `<template>
  <view class="wlu-spike-hello">
    <text>SPIKE_HELLO_PAGE</text>
    <${COMPONENT} label="SPIKE_BADGE_LABEL" />
  </view>
</template>
<script setup lang="ts">
import { ref } from 'vue';
const visits = ref(0);
visits.value += 1;
</script>
`,
};

let work = '';
let host = '';
const out = { mp: '', h5: '', realpath: '' };

/** The fixture's @dcloudio/vue/vite versions against what the repository provides. */
function versionReport(hostDir: string): string[] {
  const pkg = JSON.parse(readFileSync(join(hostDir, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
  const wanted = { ...pkg.dependencies, ...pkg.devDependencies };
  const require = createRequire(join(hostDir, 'package.json'));
  return Object.entries(wanted).map(([name, range]) => {
    let have = 'absent';
    try {
      have = (JSON.parse(readFileSync(require.resolve(`${name}/package.json`), 'utf8')) as { version: string }).version;
    } catch {
      // not in the repository's node_modules
    }
    return `${name}: fixture ${range}, used ${have}`;
  });
}

/** Runs the uni CLI on the temp host the way scripts/uni.mjs does (absolute UNI_INPUT_DIR). */
const uniBuild = (platform: 'mp-weixin' | 'h5', outputDir: string, extra: string[] = []) => uniBuildIn(host, platform, outputDir, { extra });

if (!HAVE_FIXTURE) console.warn(`[host-fixture] skipped: ${SKIP_REASON}`);

describe.skipIf(!HAVE_FIXTURE)('fixture host uni-preset-vue-vite-ts + a symlinked uni_module', () => {
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'host-fixture-'));
    host = join(work, 'host');
    cpSync(FIXTURE, host, { recursive: true });
    for (const f of files(host)) chmodSync(f, 0o644); // the fixture is read-only
    linkNodeModules(host, ['wlu-wxlogin']);
    console.log(`[host-fixture] packages (no install; the repository's node_modules):\n  ${versionReport(host).filter((l) => /@dcloudio\/(uni-app|vite-plugin-uni|uni-mp-weixin|uni-h5)"?:|^vue:|^vite:/.test(l)).join('\n  ')}`);

    // the module where `npm i wlu-spike` would put it, then the link step: src/uni_modules/<id> -> node_modules/<id>
    const moduleDir = join(host, 'node_modules', ID);
    for (const [path, text] of Object.entries(MODULE_FILES)) {
      mkdirSync(dirname(join(moduleDir, path)), { recursive: true });
      writeFileSync(join(moduleDir, path), text);
    }
    mkdirSync(join(host, 'src', 'uni_modules'));
    symlinkSync(join('..', '..', 'node_modules', ID), join(host, 'src', 'uni_modules', ID));

    // pages.json (it has comments, so edit the text): ONE subPackages entry
    const pagesFile = join(host, 'src', 'pages.json');
    const pages = readFileSync(pagesFile, 'utf8');
    const edited = pages.replace(/("globalStyle"\s*:)/, `"subPackages": [{ "root": "${SUB_ROOT}", "pages": [{ "path": "hello/index" }] }],\n\t$1`);
    expect(edited).not.toBe(pages);
    writeFileSync(pagesFile, edited);

    out.mp = join(work, 'dist', 'mp-weixin');
    out.h5 = join(work, 'dist', 'h5');
    await uniBuild('mp-weixin', out.mp); // one after the other: the machine has few cores
    await uniBuild('h5', out.h5);
    // the control: the same host with the link resolved to its real path (preserveSymlinks off)
    writeFileSync(
      join(host, 'vite.realpath.config.ts'),
      `import { defineConfig } from 'vite';\nimport uni from '@dcloudio/vite-plugin-uni';\nexport default defineConfig({ plugins: [uni(), { name: 'realpath', config: () => ({ resolve: { preserveSymlinks: false } }) }] });\n`,
    );
    out.realpath = join(work, 'dist', 'mp-weixin-realpath');
    await uniBuild('mp-weixin', out.realpath, ['--config', 'vite.realpath.config.ts']);
  }, 240_000);
  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true }); // removes the links, never their targets
  });

  it('links the module: src/uni_modules/<id> is a symlink into node_modules (the CLI npm + link route)', () => {
    expect(lstatSync(join(host, 'src', 'uni_modules', ID)).isSymbolicLink()).toBe(true);
    expect(statSync(join(host, 'src', 'uni_modules', ID, 'pages', 'hello', 'index.vue')).isFile()).toBe(true);
  });

  it('mp-weixin: app.json lists the subpackage rooted under uni_modules/<id>/pages (R1)', () => {
    const app = JSON.parse(readFileSync(join(out.mp, 'app.json'), 'utf8')) as { pages: string[]; subPackages?: { root: string; pages: string[] }[] };
    expect(app.pages).toEqual(['pages/index/index']);
    expect(app.subPackages).toEqual([{ root: SUB_ROOT, pages: ['hello/index'] }]);
  });

  it("mp-weixin: the module's page files land under the subpackage root, its component in the main package (F5/F6)", () => {
    const all = rel(out.mp);
    const moduleFiles = all.filter((f) => f.startsWith(`uni_modules/${ID}/`));
    for (const ext of ['js', 'json', 'wxml']) expect(all).toContain(`${SUB_ROOT}/hello/index.${ext}`);
    for (const ext of ['js', 'json', 'wxml']) expect(all).toContain(`uni_modules/${ID}/components/${COMPONENT}/${COMPONENT}.${ext}`);
    // every module file is either in the subpackage or in its components folder (main package)
    expect(moduleFiles.filter((f) => !f.startsWith(`${SUB_ROOT}/`) && !f.startsWith(`uni_modules/${ID}/components/`))).toEqual([]);
    // nothing from node_modules/<id> was treated as a dependency: the module's code is not in vendor.js
    expect(all.some((f) => /node[-_]modules/.test(f))).toBe(false);
    const vendor = readFileSync(join(out.mp, 'common', 'vendor.js'), 'utf8');
    expect(vendor).not.toContain('wlu-spike');
    expect(vendor).not.toContain('SPIKE_');
    const page = readFileSync(join(out.mp, SUB_ROOT, 'hello', 'index.wxml'), 'utf8');
    expect(page).toContain('SPIKE_HELLO_PAGE');
  });

  it("mp-weixin: the output keeps WeChat's subpackage reference rule (the main package never points into the subpackage)", () => {
    // developers.weixin.qq.com/miniprogram/dev/framework/subpackages/basic.html 引用原则: a subpackage may
    // require main-package JS and use its components; files outside every root form the main package.
    const inSub = (f: string) => f.startsWith(`${SUB_ROOT}/`);
    const links: [string, string][] = [];
    for (const f of rel(out.mp)) {
      const text = readFileSync(join(out.mp, f), 'utf8');
      const refs = f.endsWith('.js')
        ? [...text.matchAll(/require\("(\.[^"]+)"\)/g)].map((m) => m[1]!)
        : f.endsWith('.json') && f !== 'app.json' && f !== 'project.config.json'
          ? Object.values((JSON.parse(text) as { usingComponents?: Record<string, string> }).usingComponents ?? {}).filter((r) => r.startsWith('.'))
          : [];
      for (const r of refs) links.push([f, relative(out.mp, resolve(dirname(join(out.mp, f)), r)).split('\\').join('/')]);
    }
    expect(links.length).toBeGreaterThan(0);
    expect(links.filter(([from, to]) => !inSub(from) && inSub(to))).toEqual([]);
    expect(links.some(([from, to]) => inSub(from) && !inSub(to))).toBe(true); // the page uses main-package code
  });

  it('mp-weixin: the easycom component from the module is compiled and used by the page (F4)', () => {
    const json = JSON.parse(readFileSync(join(out.mp, SUB_ROOT, 'hello', 'index.json'), 'utf8')) as { usingComponents: Record<string, string> };
    const ref = json.usingComponents[COMPONENT];
    expect(ref).toBeDefined();
    // the reference resolves (from the page's folder) to the compiled component
    const target = resolve(join(out.mp, SUB_ROOT, 'hello'), ref!);
    expect(relative(out.mp, target).split('\\').join('/')).toBe(`uni_modules/${ID}/components/${COMPONENT}/${COMPONENT}`);
    expect(readFileSync(`${target}.wxml`, 'utf8')).toContain('class="wlu-spike-badge"');
    expect(readFileSync(`${target}.js`, 'utf8')).toContain('createComponent');
    expect(readFileSync(join(out.mp, SUB_ROOT, 'hello', 'index.wxml'), 'utf8')).toMatch(new RegExp(`<${COMPONENT}\\b`));
    expect(readFileSync(join(out.mp, SUB_ROOT, 'hello', 'index.js'), 'utf8')).toContain('SPIKE_BADGE_LABEL');
  });

  it('H5: the module page is routed and bundled, with the component inside it', () => {
    const js = rel(out.h5).filter((f) => f.endsWith('.js'));
    const text = js.map((f) => readFileSync(join(out.h5, f), 'utf8')).join('\n');
    expect(text).toContain(`path:"/${SUB_ROOT}/hello/index"`);
    const chunk = js.find((f) => readFileSync(join(out.h5, f), 'utf8').includes('SPIKE_HELLO_PAGE'));
    expect(chunk).toBeDefined();
    const source = readFileSync(join(out.h5, chunk!), 'utf8');
    expect(source).toContain(`__name:"${COMPONENT}"`);
    expect(source).toContain('SPIKE_BADGE_LABEL');
  });

  it('H5: Vue is bundled once (one version constant, and only the entry chunk carries its reactivity internals)', () => {
    // H5 builds alias `vue` to uni's own Vue runtime: its version constant is what one copy carries
    const require = createRequire(join(host, 'package.json'));
    const runtime = readFileSync(join(dirname(require.resolve('@dcloudio/uni-h5-vue/package.json')), 'dist', 'vue.runtime.esm.js'), 'utf8');
    const version = /const version = "([^"]+)"/.exec(runtime)![1]!;
    const js = rel(out.h5).filter((f) => f.endsWith('.js'));
    const text = (f: string) => readFileSync(join(out.h5, f), 'utf8');
    expect(js.map(text).join('\n').split(`"${version}"`).length - 1).toBe(1);
    // a second copy (e.g. vue resolved from another path) would carry __v_isRef/__v_raw into its chunk
    const withRuntime = js.filter((f) => /__v_isRef|__v_raw/.test(text(f)));
    expect(withRuntime).toHaveLength(1);
    expect(withRuntime[0]).toMatch(/^assets\/index-[\w-]+\.js$/);
    // the module page takes Vue from that shared entry chunk
    const chunk = js.find((f) => text(f).includes('SPIKE_HELLO_PAGE'))!;
    expect(text(chunk)).toMatch(/^import\{[^}]+\}from"\.\/index-[\w-]+\.js"/);
  });

  it("control (R2): a build that resolves the link to its real path moves the module out of uni_modules/ and the subpackage", () => {
    // F5 is what makes the link route work: with preserveSymlinks off (what a tool resolving real
    // paths would do), the files are emitted under node-modules/ and the page is split in two.
    const all = rel(out.realpath);
    expect(all.some((f) => /^node[-_]modules\//.test(f))).toBe(true);
    expect(all).not.toContain(`${SUB_ROOT}/hello/index.wxml`);
  });
});
