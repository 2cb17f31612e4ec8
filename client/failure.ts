/**
 * Failures of the connection (as opposed to errors the gateway answered with), tagged with how
 * far the request got, and the classification of anything an attempt throws into a `Failure`.
 */
import { asVitessError, VitessError } from '../rpc/errors.js';
import type { Delivery, Failure } from './retry.js';

/** The connection failed; `delivery` says whether the request may have executed. */
export class TransportFailure extends Error {
  override name = 'TransportFailure';
  constructor(
    readonly delivery: Exclude<Delivery, 'answered'>,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Error codes of failures while connecting, before a byte of the request was sent. */
const CONNECT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_HAS_EXPIRED',
]);

function errorCodes(e: unknown, depth = 0): string[] {
  if (!e || typeof e !== 'object' || depth > 4) return [];
  const o = e as { code?: unknown; cause?: unknown; errors?: unknown };
  const own = typeof o.code === 'string' ? [o.code] : [];
  const nested = Array.isArray(o.errors) ? o.errors.flatMap((x) => errorCodes(x, depth + 1)) : [];
  return [...own, ...nested, ...errorCodes(o.cause, depth + 1)];
}

/**
 * A rejected `fetch`: connection refused or a DNS failure (Node reports the code in `cause`)
 * provably sent nothing; anything else (reset, "Failed to fetch", timeout) may have been sent.
 */
export function fetchFailure(e: unknown, timeoutMs: number): TransportFailure {
  if (e instanceof TransportFailure) return e;
  const name = (e as { name?: unknown } | null)?.name;
  if (name === 'TimeoutError' || name === 'AbortError') {
    return new TransportFailure('maybe', `no answer from the gateway within ${timeoutMs} ms`, { cause: e });
  }
  const codes = errorCodes(e);
  const detail = codes.length ? ` (${[...new Set(codes)].join(', ')})` : '';
  const msg = `${e instanceof Error ? e.message : String(e)}${detail}`;
  if (codes.length > 0 && codes.every((c) => CONNECT_CODES.has(c))) {
    return new TransportFailure('not-sent', `cannot reach the gateway: ${msg}`, { cause: e });
  }
  return new TransportFailure('maybe', `connection to the gateway failed: ${msg}`, { cause: e });
}

/** Anything an attempt threw → a Failure: connection failures become UNAVAILABLE. */
export function classify(e: unknown): Failure {
  if (e instanceof TransportFailure) return { error: new VitessError('UNAVAILABLE', e.message), delivery: e.delivery };
  return { error: asVitessError(e), delivery: 'answered' };
}

/** The error a caller sees for anything thrown. */
export const toVitessError = (e: unknown): VitessError => classify(e).error;
