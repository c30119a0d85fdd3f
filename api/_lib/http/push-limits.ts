/**
 * Limits of the official account's server URL (/api/oa/push) that WeChat's real pushes never reach
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
      if (entry.forgetAt > nowMs && this.uses.size < this.limits.rememberSignatures) break;
      this.uses.delete(key);
    }
    const key = signature.toLowerCase();
    const entry = this.uses.get(key);
    if (!entry) {
      this.uses.set(key, { count: 1, forgetAt: nowMs + 2 * this.windowMs });
      return true;
    }
    entry.count++;
    return entry.count <= this.limits.maxUsesPerSignature;
  }
}

/** Resolves with the body, or null when it has not fully arrived within `ms` (the read goes on, unobserved). */
export function readWithin(body: Promise<string>, ms: number): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => resolve(null), ms);
    body.then(
      (text) => {
        clearTimeout(timer);
        resolve(text);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
