/** Typed errors with stable codes, shared by server and client. */
export const ERROR_CODES = [
  'SYNTAX', // SQL does not parse
  'UNSUPPORTED', // parses, but the construct cannot run here (names the construct)
  'CONSTRAINT', // unique / not null / check / foreign key violation (names constraint, columns)
  'NOT_FOUND', // unknown table, column, keyspace, transaction
  'TIMEOUT', // lock wait or transaction deadline passed
  'CONFLICT', // serialization conflict; safe to retry the whole transaction
  'LIMIT_EXCEEDED', // parameter count, statement size, row size, batch size
  'INVALID', // bad argument or type mismatch
  'UNAUTHENTICATED', // no valid token (HTTP 401)
  'FORBIDDEN', // the token does not allow this keyspace, table, action or row (HTTP 403)
  'UNAVAILABLE', // transient: the shard or connection is not reachable; safe to retry
  'INTERNAL',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ErrorDetails {
  constraint?: string;
  table?: string;
  columns?: string[];
  construct?: string;
  position?: number;
  limit?: string;
  /** A subscription behind the log's trim point: the position to resume from after re-reading the state. */
  restartFrom?: string;
  /** The shards an error is about (e.g. those a subscription fell behind on). */
  shards?: string[];
  /** A refusal of a request routed by an older shard layout (`construct: STALE_LAYOUT`): the shard's current layout version. */
  layoutVersion?: number;
}

/**
 * `details.construct` of a tablet's refusal of a request stamped with an older layout version
 * than the one it was told (code UNAVAILABLE; nothing was run): VTGate reads the layout again and
 * retries (docs/resharding.md).
 */
export const STALE_LAYOUT = 'stale shard layout';

export class VitessError extends Error {
  override name = 'VitessError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: ErrorDetails = {},
  ) {
    super(message);
  }

  /** Whether retrying the same request can succeed without changing it. */
  get retryable(): boolean {
    return this.code === 'UNAVAILABLE' || this.code === 'CONFLICT' || this.code === 'TIMEOUT';
  }

  toJSON(): { code: ErrorCode; message: string; details: ErrorDetails } {
    return { code: this.code, message: this.message, details: this.details };
  }

  static fromJSON(j: { code: string; message: string; details?: ErrorDetails }): VitessError {
    const code = (ERROR_CODES as readonly string[]).includes(j.code) ? (j.code as ErrorCode) : 'INTERNAL';
    return new VitessError(code, j.message, j.details ?? {});
  }
}

/**
 * Errors crossing an RPC boundary arrive as plain `Error`s (capnweb and Workers RPC keep the
 * message and name only), so the code travels as a `[CODE] ` prefix of the message.
 */
export function encodeError(e: unknown): Error {
  const v = asVitessError(e);
  const err = new Error(`[${v.code}] ${v.message}${Object.keys(v.details).length ? ` ${JSON.stringify(v.details)}` : ''}`);
  err.name = 'VitessError';
  return err;
}

/** Runs an RPC method's body so that what it throws crosses the boundary with its code (encodeError). */
export async function guarded<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw encodeError(e);
  }
}

export function asVitessError(e: unknown): VitessError {
  if (e instanceof VitessError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  const m = /^\[([A-Z_]+)\] ([\s\S]*?)(?: (\{[^{}]*(?:\{[^{}]*\}[^{}]*)*\}))?$/.exec(msg);
  if (m && (ERROR_CODES as readonly string[]).includes(m[1]!)) {
    return new VitessError(m[1] as ErrorCode, m[2]!, m[3] ? (JSON.parse(m[3]) as ErrorDetails) : {});
  }
  return new VitessError('INTERNAL', msg);
}
