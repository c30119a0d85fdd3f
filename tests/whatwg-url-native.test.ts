import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { ConnectionString as Original } from 'mongodb-connection-string-url';
import { afterAll, describe, expect, it } from 'vitest';

// packages/server/scripts/build.mjs bundles the MongoDB driver with Node's own URL in place of
// whatwg-url (packages/server/scripts/whatwg-url-native.cjs): a cold login parses ~290 KB less
// (docs/BENCH.md "Cold first login"). The driver reads every connection string through
// mongodb-connection-string-url: built with the same alias, it must read them as the original does.
const dir = mkdtempSync(join(tmpdir(), 'wx-url-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function bundled(): Promise<{ ConnectionString: typeof Original; text: string }> {
  const out = join(dir, 'cs.mjs');
  const result = await build({
    absWorkingDir: join(import.meta.dirname, '../packages/server'),
    stdin: { contents: "export { ConnectionString } from 'mongodb-connection-string-url';", resolveDir: join(import.meta.dirname, '../packages/server') },
    bundle: true,
    format: 'esm',
    platform: 'node',
    outfile: out,
    alias: { 'whatwg-url': './scripts/whatwg-url-native.cjs' },
    metafile: true,
    logLevel: 'silent',
  });
  const inputs = Object.keys(result.metafile.inputs).join('\n');
  return { ...(await import(pathToFileURL(out).href)), text: inputs };
}

const URIS = [
  'mongodb://127.0.0.1:27018/',
  'mongodb://user:p%40ss%3Aw0rd@db1.example.com:27017,db2.example.com:27018/wechat?replicaSet=rs0&authSource=admin&retryWrites=true',
  'mongodb+srv://app:secret@cluster0.ab1cd.mongodb.net/wechat_login?retryWrites=true&w=majority&appName=Cluster0',
  'mongodb://[::1]:27017,localhost/?directConnection=false&ReadPreference=secondaryPreferred&serverSelectionTimeoutMS=300',
  'mongodb://%2Ftmp%2Fmongodb-27017.sock/db',
  'mongodb://münchen.example/x?tls=true',
];

describe("the server bundle's whatwg-url (Node's own URL)", () => {
  it('leaves whatwg-url and tr46 out of the bundle', async () => {
    const { text } = await bundled();
    expect(text).toContain('mongodb-connection-string-url');
    expect(text).not.toMatch(/node_modules\/(whatwg-url|tr46)\//);
  });

  it('reads connection strings exactly as the original does (hosts, credentials, options, redaction)', async () => {
    const { ConnectionString } = await bundled();
    const view = (cs: Original) => ({
      text: cs.toString(),
      hosts: cs.hosts,
      user: cs.username,
      password: cs.password,
      path: cs.pathname,
      params: [...cs.searchParams.entries()],
      // the driver looks options up case-insensitively
      readPreference: cs.searchParams.get('readpreference'),
      redacted: cs.redact().toString(),
      srv: cs.isSRV,
    });
    for (const uri of URIS) expect(view(new ConnectionString(uri)), uri).toEqual(view(new Original(uri)));
    for (const bad of ['mongodb://', 'http://x/', 'mongodb://a:b:c@x/', 'mongodb://@x/']) {
      expect(() => new ConnectionString(bad), bad).toThrow();
      expect(() => new Original(bad), bad).toThrow();
    }
  });
});
