import { defineConfig } from 'vitest/config';

// Two projects: the server side (Node) and the client side (uni-app pages under jsdom).
// The uni vite plugin is deliberately NOT loaded here.
export default defineConfig({
  test: {
    projects: [
      {
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
