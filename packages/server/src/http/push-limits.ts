import type { Context } from 'hono';

/**
 * Limits of the official account's server URL (/api/auth/oa/push) that WeChat's real pushes never reach
 * (docs/SECURITY.md "Push endpoint cost", docs/DEPLOY.md §13). In memory, per process: nothing here
 * touches the store, so a refused request costs no round trip.
 *
 * - maxInFlight: pushes being read or handled at once. WeChat sends one push per person's action
 *   (a scan, a follow, a message) and each is answered in milliseconds; 64 at once is thousands a
 *   second per instance. Over it: 429 too_many_requests before the body is read (at most
 *   64 × MAX_PUSH_BYTES = 4 MiB of push bodies in memory).
 * - bodyDeadlineMs: WeChat sends its small body with the headers and waits 5 s for the answer; a
 *   body still incomplete after 4 s is not WeChat's (its request is being abandoned anyway), and
 *   its slot is freed.
 * - maxUsesPerSignature: a signed query (timestamp, nonce, signature / msg_signature) is sent by
 *   WeChat once, plus at most three retries of the same message. A 5th use is a replay: refused
 *   before the body is parsed, so a captured URL is not a free channel for parsing work for the
 *   300 s its timestamp stays fresh. Remembered for twice that window (the timestamp may lie up to
 *   300 s either side of our clock), at most `rememberSignatures` of them (oldest forgotten first;
 *   only correctly signed requests are remembered, so only WeChat's traffic fills it).
 */
export interface PushLimits {
  maxInFlight: number;
  bodyDeadlineMs: number;
  maxUsesPerSignature: number;
  rememberSignatures: number;
}

export const PUSH_LIMITS: PushLimits = {
  maxInFlight: 64,
  bodyDeadlineMs: 4_000,
  maxUsesPerSignature: 4,
  rememberSignatures: 20_000,
};

export class PushGate {
  readonly limits: PushLimits;
  private inFlight = 0;
  /** signature → uses and when it is forgotten; Map order = first use, so the front expires first */
  private readonly uses = new Map<string, { count: number; forgetAt: number }>();

  constructor(limits: Partial<PushLimits> = {}, private readonly windowMs: number) {
    this.limits = { ...PUSH_LIMITS, ...limits };
  }

  /** Takes a slot; false when maxInFlight pushes are already being read or handled. */
  enter(): boolean {
    if (this.inFlight >= this.limits.maxInFlight) return false;
    this.inFlight++;
    return true;
  }

  leave(): void {
    this.inFlight = Math.max(0, this.inFlight - 1);
  }

  /** Counts one use of a correctly signed query; false once it has served maxUsesPerSignature requests. */
  use(signature: string, nowMs: number): boolean {
    for (const [key, entry] of this.uses) {
      if (entry.forgetAt > nowMs) break;
      this.uses.delete(key);
    }
    const key = signature.toLowerCase();
    const entry = this.uses.get(key);
    if (entry) return ++entry.count <= this.limits.maxUsesPerSignature;
    if (this.uses.size >= this.limits.rememberSignatures) this.uses.delete(this.uses.keys().next().value!);
    this.uses.set(key, { count: 1, forgetAt: nowMs + 2 * this.windowMs });
    return true;
  }
}

/**
 * The push body, read within `deadlineMs` and at most `maxBytes` (the body limit and the deadline
 * together; hono's bodyLimit would first read a chunked body to its end, however slowly it comes).
 * A stated Content-Length is judged before reading, and such a body is read through c.req.text()'s
 * fast path; a chunked one is counted chunk by chunk. Returns the text, or why it was refused.
 */
export async function readPushBody(c: Context, maxBytes: number, deadlineMs: number): Promise<string | 'too_large' | 'late'> {
  const stated = c.req.header('content-length');
  if (stated !== undefined && c.req.header('transfer-encoding') === undefined) {
    if (!/^\d{1,10}$/.test(stated) || Number(stated) > maxBytes) return 'too_large';
    return (await within(c.req.text(), deadlineMs)) ?? 'late';
  }
  const body = c.req.raw.body;
  if (!body) return '';
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), deadlineMs)));
  try {
    for (;;) {
      const next = await Promise.race([reader.read(), late]);
      if (next === 'late' || (!next.done && (size += next.value.length) > maxBytes)) {
        reader.cancel().catch(() => undefined);
        return next === 'late' ? 'late' : 'too_large';
      }
      if (next.done) break;
      chunks.push(next.value);
    }
  } finally {
    clearTimeout(timer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Resolves with the value, or null when it has not come within `ms` (the work goes on, unobserved). */
function within<T>(work: Promise<T>, ms: number): Promise<T | null> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => resolve(null), ms);
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
