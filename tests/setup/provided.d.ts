// What tests/setup/global.ts provides to every test file (both vitest projects): inject('mongodbUri').
import 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    /** the test MongoDB's URI; '' when no MongoDB-compatible server is available (SKIP_MONGO=1) */
    mongodbUri: string;
  }
}
