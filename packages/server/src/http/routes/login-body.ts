import * as z from 'zod/mini';

/**
 * The mini login's body, on zod/mini: the first request of a cold instance is usually a login, and
 * zod's full chunk (every locale: ~470 KB) cost it ~30 ms to load. This module is imported on first
 * use (routes/mini.ts) and built as a chunk of its own (packages/server/scripts/build.mjs), so it
 * does not share zod's chunk. zod/mini loads no locale: each check names its own message.
 */
export const LoginBody = z.object(
  {
    // uni.login codes are short opaque strings; anything else is rejected before a database write.
    code: z.string({ error: 'must be the code from uni.login' }).check(z.regex(/^[A-Za-z0-9_-]{8,128}$/, 'must be the code from uni.login')),
    profile: z.optional(
      z.looseObject(
        {
          nickName: z.optional(z.string({ error: 'must be a string' }).check(z.maxLength(200, 'must be at most 200 characters'))),
          avatarUrl: z.optional(z.string({ error: 'must be a string' }).check(z.maxLength(2048, 'must be at most 2048 characters'))),
        },
        { error: 'must be an object' },
      ),
    ),
  },
  { error: 'must be a JSON object' },
);
