import type { LoginResponse } from '../../shared/api';
import { ApiError, rawRequest } from './request';
import { useAuthStore } from '../stores/auth';

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
export function embedOptions(selfRedirect: boolean, next: string): Promise<WxLoginOptions> {
  return rawRequest<WxLoginOptions>({ method: 'POST', path: '/api/auth/web/embed', data: { selfRedirect, next } });
}

export type AttemptStatus = 'waiting' | 'scanned' | 'confirmed' | 'cancelled' | 'taken' | 'expired';
export interface AttemptState {
  status: AttemptStatus;
  version: number;
  expiresAt: string;
}
export interface NewAttempt extends AttemptState {
  /** data: URL of the QR code (our URL for this attempt, or the official account's parametric QR) */
  qr: string;
  /** what the QR code encodes */
  scanUrl: string;
  /** which QR the API gave: 'follow' only when the official account's server URL is configured */
  form: 'own-qr' | 'follow';
  /** follow: WeChat's own image of the QR code (showqrcode) */
  qrImageUrl?: string;
  /** the two digits the person picks on the phone's confirmation page (number matching, docs/SECURITY.md) */
  match: string;
}

/** A new attempt; `follow` asks for the official account's parametric QR (关注公众号登录). */
export function createAttempt(form: 'own-qr' | 'follow' = 'own-qr'): Promise<NewAttempt> {
  return rawRequest<NewAttempt>({ method: 'POST', path: '/api/auth/pc/attempt', data: form === 'follow' ? { form } : {} });
}

export async function collectAttempt(): Promise<LoginResponse> {
  const res = await rawRequest<LoginResponse>({ method: 'POST', path: '/api/auth/pc/session', data: {} });
  useAuthStore().setSession(res);
  return res;
}

const FINAL: readonly AttemptStatus[] = ['confirmed', 'cancelled', 'taken', 'expired'];
export type Transport = 'sse' | 'long-poll' | 'poll';

/**
 * Live status of this browser's attempt: Server-Sent Events first (the server ends each stream
 * within ~25 s and EventSource reconnects after `retry:`); when no event arrives (SSE blocked by a
 * proxy or an extension) long-polling; when that fails too, plain polling every 2 s.
 * Returns a stop function.
 */
export function watchAttempt(
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
  const status = (wait: boolean) => rawRequest<AttemptState>({ method: 'GET', path: `/api/auth/pc/status${wait ? `?wait=1&version=${version}` : ''}` });

  async function poll(): Promise<void> {
    while (!stopped) {
      await new Promise((r) => setTimeout(r, options.pollMs ?? 2000));
      if (stopped) return;
      try {
        const state = await status(false);
        if (state.version !== version || FINAL.includes(state.status)) deliver(state, 'poll');
      } catch (error) {
        if (error instanceof ApiError && error.status >= 400 && error.status < 500 && error.code !== 'too_many_requests') return deliver({ ...initial, status: 'expired' }, 'poll');
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
        if (error instanceof ApiError && error.status >= 400 && error.status < 500 && error.code !== 'too_many_requests') return deliver({ ...initial, status: 'expired' }, 'long-poll');
        if (++failures >= 2) return poll();
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  function sse(): void {
    if (typeof EventSource === 'undefined') return void longPoll();
    let heard = false;
    source = new EventSource('/api/auth/pc/events');
    const fallback = () => {
      if (stopped || heard) return;
      source?.close();
      source = null;
      void longPoll();
    };
    const timer = setTimeout(fallback, options.sseTimeoutMs ?? 4000);
    source.addEventListener('status', (event) => {
      heard = true;
      clearTimeout(timer);
      const state = JSON.parse((event as MessageEvent<string>).data) as AttemptState;
      if (state.version !== version || FINAL.includes(state.status)) deliver(state, 'sse');
    });
    source.onerror = () => {
      // after the first event an error is just the stream's end: EventSource reconnects by itself
      if (!heard) {
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
