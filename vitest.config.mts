import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// The workspace packages by name resolve to their source (as tsconfig.json `paths` do for tsc and
// tsx): the tests, `npm run dev` and the type check need no built dist. Only the tarball tests
// (tests/pack.test.ts, tests/host-*.test.ts) and `vercel build` use the package's dist.
const serverSrc = fileURLToPath(new URL('./packages/server/src/', import.meta.url));
const ENTRY = /^wlu-wxlogin-server(?:\/(node|next|vercel|mongodb))?$/;
/** Built output (the Vercel functions under .vercel/output) keeps Node's resolution: the package's dist. */
const workspaceSource = {
  name: 'workspace-source',
  enforce: 'pre' as const,
  resolveId(source: string, importer: string | undefined) {
    const match = ENTRY.exec(source);
    if (!match || importer?.includes('/.vercel/output/')) return null;
    return `${serverSrc}${match[1] ?? 'index'}.ts`;
  },
};

// Two projects: the server side (Node) and the client side (uni-app pages under jsdom).
// The uni vite plugin is deliberately NOT loaded here.
export default defineConfig({
  test: {
    projects: [
      {
        plugins: [workspaceSource],
        test: {
          name: 'server',
          include: ['tests/**/*.test.ts'],
          environment: 'node',
          globalSetup: ['tests/setup/global.ts'],
          testTimeout: 30_000,
          hookTimeout: 300_000,
        },
      },
      {
        test: {
          name: 'client',
          include: ['client/tests/**/*.test.ts'],
          environment: 'jsdom',
          globalSetup: ['tests/setup/global.ts'],
          testTimeout: 30_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
