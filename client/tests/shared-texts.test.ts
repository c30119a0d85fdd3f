// Issue 20 ("also in this change"): the attempt statuses and the error messages the client shows come
// from shared/ (shared/errors.ts, shared/api.ts), never from copies. Before, client/api/endpoints.ts
// repeated eight of the API's messages and client/api/pc-login.ts the attempt statuses.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { expect, it } from 'vitest';
import { ATTEMPT_STATUSES } from '../../shared/api';
import { ERROR_CODES } from '../../shared/errors';

const ROOT = resolve(import.meta.dirname, '../..');
const SKIP = new Set(['shared', 'tests', 'uni_modules', 'node_modules']);

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (SKIP.has(name)) return [];
    return statSync(path).isDirectory() ? sources(path) : /\.(ts|vue)$/.test(name) ? [path] : [];
  });
}

const files = [...sources(join(ROOT, 'packages/wlu-wxlogin')), ...sources(join(ROOT, 'client'))].map((f) => ({ file: relative(ROOT, f), text: readFileSync(f, 'utf8') }));

it('Should show the API’s error messages from shared/errors.ts, never a copy of their text', () => {
  expect(files.length).toBeGreaterThan(20);
  const copies = Object.entries(ERROR_CODES).flatMap(([code, { message }]) => files.filter((f) => f.text.includes(message)).map((f) => `${f.file}: ${code} (${message})`));
  expect(copies).toEqual([]);
});

it('Should take the PC attempt statuses from shared/api.ts, never a second list', () => {
  expect(ATTEMPT_STATUSES).toEqual(['waiting', 'scanned', 'confirmed', 'cancelled', 'taken', 'expired']);
  const lists = files.filter((f) => /'waiting'\s*\|\s*'scanned'|\[\s*'confirmed',\s*'cancelled'/.test(f.text)).map((f) => f.file);
  expect(lists).toEqual([]);
});
