/**
 * Retries, pure: exponential backoff with full jitter, and the rule for which failures may be
 * retried. The rule (docs/client.md, "Retries"):
 *
 * - a request that provably never ran (`delivery: 'not-sent'`) is retried, read or write;
 * - a request that may have run (`'maybe'`: the connection broke or timed out after it was sent)
 *   is retried only when it is idempotent (reads);
 * - a request the gateway answered with an error (`'answered'`) is retried only when it is
 *   idempotent and the error is transient (`VitessError.retryable`: UNAVAILABLE, CONFLICT, TIMEOUT).
 *
 * So a write is never sent twice unless the first attempt provably did not execute.
 */
import { VitessError } from '../rpc/errors.js';

export interface RetryPolicy {
  /** Total attempts, the first included (1 = no retries). */
  attempts: number;
  /** Backoff cap of the first retry; doubles on each further retry. */
  baseMs: number;
  /** Upper bound of any single delay. */
  maxMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 4, baseMs: 50, maxMs: 2_000 };

/** Fills in and clamps a user's partial policy (attempts ≥ 1, 0 ≤ baseMs ≤ maxMs). */
export function retryPolicy(p: Partial<RetryPolicy> = {}): RetryPolicy {
  const attempts = Math.max(1, Math.floor(finite(p.attempts, DEFAULT_RETRY.attempts)));
  const maxMs = Math.max(0, finite(p.maxMs, DEFAULT_RETRY.maxMs));
  const baseMs = Math.min(maxMs, Math.max(0, finite(p.baseMs, DEFAULT_RETRY.baseMs)));
  return { attempts, baseMs, maxMs };
}

const finite = (v: number | undefined, dflt: number): number => (typeof v === 'number' && !Number.isNaN(v) ? v : dflt);

/** The cap of the delay before retry number `retry` (0-based): min(maxMs, baseMs · 2^retry). */
export function backoffCap(policy: RetryPolicy, retry: number): number {
  // The exponent is bounded: 2^1024 is Infinity, and 0 · Infinity is NaN.
  return Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(Math.max(0, retry), 60));
}

/** Full jitter: a delay drawn uniformly from [0, cap) (AWS Architecture Blog, "Exponential Backoff And Jitter"). */
export function backoffDelay(policy: RetryPolicy, retry: number, random: () => number = Math.random): number {
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.floor(r * backoffCap(policy, retry));
}

/** How far a failed attempt got. */
export type Delivery =
  /** Provably never executed: refused before sending (connection refused, DNS, socket never
   * opened) or rejected by the gateway before running anything (HTTP 503 / 429). */
  | 'not-sent'
  /** Sent, and then the connection broke or the answer did not come in time: it may have run. */
  | 'maybe'
  /** The gateway ran the request and answered with an error. */
  | 'answered';

export interface Failure {
  error: VitessError;
  delivery: Delivery;
}

/** The retry rule (see the module comment). `idempotent`: the request only reads. */
export function shouldRetry(f: Failure, idempotent: boolean): boolean {
  switch (f.delivery) {
    case 'not-sent':
      return true;
    case 'maybe':
      return idempotent;
    case 'answered':
      return idempotent && f.error.retryable;
  }
}

export interface RetryHooks {
  /** Turns whatever an attempt threw into a Failure. */
  classify: (e: unknown) => Failure;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /** Called before each retry (for logging and tests). */
  onRetry?: (f: Failure, retry: number, delayMs: number) => void;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs `attempt` until it succeeds, the failure may not be retried, or the attempts are spent.
 * Throws the last failure's VitessError; when retries ran out the message says how many attempts.
 */
export async function withRetry<T>(policy: RetryPolicy, idempotent: boolean, attempt: (n: number) => Promise<T>, hooks: RetryHooks): Promise<T> {
  const wait = hooks.sleep ?? sleep;
  for (let n = 0; ; n++) {
    try {
      return await attempt(n);
    } catch (e) {
      const f = hooks.classify(e);
      if (!shouldRetry(f, idempotent)) throw notRetried(f, idempotent, n + 1);
      if (n + 1 >= policy.attempts) throw exhausted(f, n + 1);
      const delay = backoffDelay(policy, n, hooks.random);
      hooks.onRetry?.(f, n, delay);
      await wait(delay);
    }
  }
}

function notRetried(f: Failure, idempotent: boolean, attempts: number): VitessError {
  if (f.delivery !== 'maybe' || idempotent) return f.error;
  return new VitessError(
    f.error.code,
    `${f.error.message} (the request was sent and may have executed; a write is not retried${attempts > 1 ? `; ${attempts} attempts` : ''})`,
    f.error.details,
  );
}

function exhausted(f: Failure, attempts: number): VitessError {
  if (attempts <= 1) return f.error;
  return new VitessError(f.error.code, `${f.error.message} (gave up after ${attempts} attempts)`, f.error.details);
}
