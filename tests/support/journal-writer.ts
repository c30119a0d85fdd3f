// Child process for tests/embedded-durability.test.ts: writes users to an embedded store as fast as
// it can (20 in flight at a time) and prints each id once its write has resolved (acknowledged).
// The parent kills it with SIGKILL mid-stream and checks that every acknowledged write survived.
import { EmbeddedStore } from '../../packages/server/src/store/embedded.js';

const dir = process.argv[2]!;
const store = new EmbeddedStore({ dir });
const padding = 'x'.repeat(900); // ~1 KiB per line: the journal passes 1 MiB and is compacted meanwhile
let n = 0;
async function worker(): Promise<void> {
  for (;;) {
    const id = `u${n++}`;
    const now = new Date();
    await store.accounts.insertUserIfAbsent({ id, nickname: `${id}-${padding}`, avatarUrl: null, createdAt: now, updatedAt: now });
    process.stdout.write(`${id}\n`);
  }
}
await Promise.all(Array.from({ length: 20 }, worker));
