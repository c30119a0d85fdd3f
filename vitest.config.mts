import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// The workspace packages by name resolve to their source (as tsconfig.json `paths` do for tsc and
// tsx): the tests, `npm run dev` and the type check need no built dist. Only the tarball tests
// (tests/pack.test.ts, tests/host-*.test.ts) and `vercel build` use the package's dist.
const serverSrc = fileURLToPath(new URL('./packages/server/src/', import.meta.url));
const alias = [
  { find: /^wlu-wxlogin-server$/, replacement: `${serverSrc}index.ts` },
  { find: /^wlu-wxlogin-server\/(node|next|vercel|mongodb)$/, replacement: `${serverSrc}$1.ts` },
];

// Two projects: the server side (Node) and the client side (uni-app pages under jsdom).
// The uni vite plugin is deliberately NOT loaded here.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'server',
          alias,
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
