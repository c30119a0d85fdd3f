// Runs tests/support/stack.ts (real API + WeChat simulator, in-memory store) in its own Node
// process for the compiled-page tests: those run under jsdom, whose globals (AbortSignal, Blob,
// FormData…) and browser-mode module resolution must not leak into the server.
// Prints one JSON line { apiUrl, simUrl, appid } when ready; exits when stdin closes.
import { startStack } from '../../../tests/support/stack.js';

// STACK_OPTIONS: JSON StackOptions (domains, simPublicHost…) for the cross-site browser tests
const stack = await startStack(process.env.STACK_OPTIONS ? JSON.parse(process.env.STACK_OPTIONS) : {});
process.stdout.write(JSON.stringify({ apiUrl: stack.apiUrl, simUrl: stack.simUrl, appid: stack.appid, webAppid: stack.webAppid, oaAppid: stack.oaAppid }) + '\n');

let closing = false;
async function shutdown(): Promise<void> {
  if (closing) return;
  closing = true;
  await stack.close().catch(() => {});
  process.exit(0);
}
process.stdin.on('end', shutdown);
process.stdin.on('close', shutdown);
process.stdin.resume();
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
