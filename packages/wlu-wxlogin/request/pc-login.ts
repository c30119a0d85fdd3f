import { FINAL_ATTEMPT_STATUSES as FINAL, type AttemptState } from '../shared/api';
import { ApiError, rawRequest } from './transport';

export type { AttemptState, AttemptStatus } from '../shared/api';
/** Builds a server URL from a path under basePath (useWluAuthStore().url). */
export type UrlOf = (path: string) => string;

/**
 * PC login (issue 13), H5 only: WeChat's QR inside our page (WxLogin) and our own QR confirmed on
 * the phone. The bindings are HttpOnly cookies set by the API; nothing here holds a token until the
 * session is collected.
 */
export interface WxLoginOptions {
  appid: string;
  scope: string;
  redirectUri: string;
  state: string;
  selfRedirect: boolean;
  scriptUrl: string;
  expiresAt: string;
}

/** WxLogin's options for this browser (the state cookie is set by the response). */
export function embedOptions(url: UrlOf, selfRedirect: boolean, next: string): Promise<WxLoginOptions> {
  return rawRequest<WxLoginOptions>({ method: 'POST', url: url('/web/embed'), data: { selfRedirect, next } });
}

/** A QR code the PC page shows. */
export interface ShownQr {
  /** data: URL of the QR code (our URL for this attempt, or the official account's parametric QR) */
  qr: string;
  /** what the QR code encodes */
  scanUrl: string;
  /** which QR the API gave: 'follow' only when the official account can make parametric QR codes */
  form: 'own-qr' | 'follow';
  /** follow: WeChat's own image of the QR code (showqrcode) */
  qrImageUrl?: string;
}
/** A new attempt: our own QR at once; the follow form without a QR (ask followQr when the card is shown). */
export type NewAttempt = AttemptState & (ShownQr | { form: 'follow'; qr?: undefined });

/** A new attempt; `follow` asks for the official account's parametric QR (关注公众号登录). */
export function createAttempt(url: UrlOf, form: 'own-qr' | 'follow' = 'own-qr'): Promise<NewAttempt> {
  return rawRequest<NewAttempt>({ method: 'POST', url: url('/pc/attempt'), data: form === 'follow' ? { form } : {} });
}

/**
 * The follow form's QR for this browser's attempt, asked only when the page is visible: WeChat's
 * parametric QR (reused by this browser while it lives), or our own QR when the account can't make one.
 */
export async function followQr(url: UrlOf): Promise<ShownQr> {
  if (typeof document !== 'undefined' && document.visibilityState === 'hidden') {
    await new Promise<void>((resolve) => {
      const shown = () => {
        if (document.visibilityState === 'hidden') return;
        document.removeEventListener('visibilitychange', shown);
        resolve();
      };
      document.addEventListener('visibilitychange', shown);
    });
  }
  return rawRequest<ShownQr>({ method: 'POST', url: url('/pc/follow-qr'), data: {} });
}

export type Transport = 'sse' | 'long-poll' | 'poll';

/** The longest wait a Retry-After may impose (the API's limits count in one-minute windows). */
const MAX_BACKOFF_MS = 60_000;

/**
 * Live status of this browser's attempt: Server-Sent Events first (the server ends each stream
 * within ~25 s and EventSource reconnects after `retry:`); when no event arrives (SSE blocked by a
 * proxy or an extension) long-polling; when that fails too, plain polling every 2 s.
 *
 * EventSource gives up for good when a reconnect is answered with anything but a 200 event stream
 * (a 429 from the API's limits, a 502 from a proxy): readyState CLOSED and one last error. The page
 * then carries on with status requests (long-poll, then polling) instead of waiting forever on a
 * dead stream; a 429 on those waits the Retry-After the API sent (at most a minute) before the next.
 * Returns a stop function.
 */
export function watchAttempt(
  url: UrlOf,
  initial: AttemptState,
  onStatus: (state: AttemptState, via: Transport) => void,
  options: { sseTimeoutMs?: number; pollMs?: number } = {},
): () => void {
  let stopped = false;
  let version = initial.version;
  let source: EventSource | null = null;
  const deliver = (state: AttemptState, via: Transport) => {
    if (stopped) return;
    version = state.version;
    onStatus(state, via);
    if (FINAL.includes(state.status)) stop();
  };
  const status = (wait: boolean) => rawRequest<AttemptState>({ method: 'GET', url: url(`/pc/status${wait ? `?wait=1&version=${version}` : ''}`) });
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  /** 429: how long the API asked to wait (plus up to 1 s so many PCs do not return at once); else null */
  const backoffMs = (error: unknown): number | null => {
    if (!(error instanceof ApiError) || error.code !== 'too_many_requests') return null;
    return Math.min(MAX_BACKOFF_MS, (error.retryAfter ?? 5) * 1000) + Math.floor(Math.random() * 1000);
  };
  /** a 4xx other than 429: the attempt is gone (expired, collected, another browser's cookie) */
  const gone = (error: unknown) => error instanceof ApiError && error.status >= 400 && error.status < 500 && error.code !== 'too_many_requests';

  async function poll(): Promise<void> {
    let wait = options.pollMs ?? 2000;
    while (!stopped) {
      await sleep(wait);
      if (stopped) return;
      wait = options.pollMs ?? 2000;
      try {
        const state = await status(false);
        if (state.version !== version || FINAL.includes(state.status)) deliver(state, 'poll');
      } catch (error) {
        if (gone(error)) return deliver({ ...initial, status: 'expired' }, 'poll');
        wait = Math.max(wait, backoffMs(error) ?? 0);
      }
    }
  }

  async function longPoll(): Promise<void> {
    let failures = 0;
    while (!stopped) {
      try {
        const state = await status(true);
        failures = 0;
        if (state.version !== version || FINAL.includes(state.status)) deliver(state, 'long-poll');
      } catch (error) {
        if (gone(error)) return deliver({ ...initial, status: 'expired' }, 'long-poll');
        const backoff = backoffMs(error);
        if (backoff !== null) {
          // refused by a limit, not broken: wait as asked and keep long-polling
          await sleep(backoff);
          continue;
        }
        if (++failures >= 2) return poll();
        await sleep(1000);
      }
    }
  }

  function sse(): void {
    if (typeof EventSource === 'undefined') return void longPoll();
    let heard = false;
    source = new EventSource(url('/pc/events'));
    const fallback = () => {
      if (stopped) return;
      source?.close();
      source = null;
      void longPoll();
    };
    const timer = setTimeout(() => heard || fallback(), options.sseTimeoutMs ?? 4000);
    source.addEventListener('status', (event) => {
      heard = true;
      clearTimeout(timer);
      const state = JSON.parse((event as MessageEvent<string>).data) as AttemptState;
      if (state.version !== version || FINAL.includes(state.status)) deliver(state, 'sse');
    });
    source.onerror = () => {
      const closed = source?.readyState === 2; // EventSource.CLOSED: it will not reconnect
      // After the first event an error is usually the stream's end, and EventSource reconnects by
      // itself; before it, or once the browser has given up (a refused reconnect), status requests take over.
      if (!heard || closed) {
        clearTimeout(timer);
        fallback();
      }
    };
  }

  function stop(): void {
    stopped = true;
    source?.close();
    source = null;
  }

  sse();
  return stop;
}
