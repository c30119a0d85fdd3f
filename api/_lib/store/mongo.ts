// TEMPORARY STUB written by the lead so other code compiles; helper-1 replaces this whole file.
import type { Store } from './types.js';
export function createMongoStore(_options: { uri: string; dbName?: string }): Store {
  throw new Error('not yet');
}
