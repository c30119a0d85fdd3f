// The esbuild options every bundled function is built with: the server package's dist (packages/server/scripts/build.mjs uses the same settings)
// and the hello-world it is compared with (bench/cold.ts), so a cold-start ratio compares like with like.
export const BUNDLE_OPTIONS = {
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  minify: true,
  // Readable function names in production stack traces.
  keepNames: true,
  logLevel: 'warning',
};

// How a bundle carries the MongoDB driver (the package's dist and bench/cold.ts's floor function): its optional
// modules stay external (loaded by the driver only when configured), whatwg-url is Node's own URL
// (packages/server/scripts/whatwg-url-native.cjs), and `require` exists for the driver's CommonJS.
export const DRIVER_OPTIONAL = ['kerberos', '@mongodb-js/zstd', 'snappy', 'socks', 'aws4', 'mongodb-client-encryption', 'gcp-metadata', '@aws-sdk/credential-providers'];
export const DRIVER_ALIAS = { 'whatwg-url': new URL('../../packages/server/scripts/whatwg-url-native.cjs', import.meta.url).pathname };
export const REQUIRE_BANNER = { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" };
