import { asVitessError, type ErrorCode } from '../../rpc/errors.js';
import type { ResultSet } from '../../rpc/results.js';
import { rowToWire } from '../../rpc/values.js';

const STATUS: Record<ErrorCode, number> = {
  SYNTAX: 400,
  UNSUPPORTED: 400,
  CONSTRAINT: 400,
  INVALID: 400,
  LIMIT_EXCEEDED: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  TIMEOUT: 504,
  UNAVAILABLE: 503,
  INTERNAL: 500,
};

/** Refusals of the request itself, before any route: body too large (413), not JSON (415). */
const REQUEST_LIMITS: Record<string, number> = { MAX_BODY_BYTES: 413, MEDIA_TYPE: 415 };

export function errorResponse(e: unknown, headers: Record<string, string> = {}): Response {
  const err = asVitessError(e);
  const status = (err.details.limit && REQUEST_LIMITS[err.details.limit]) || STATUS[err.code];
  return Response.json({ error: err.toJSON() }, { status, headers: { ...headers, ...(status === 401 && { 'www-authenticate': 'Bearer realm="vitess"' }) } });
}

/** A result as JSON: values in the tagged wire encoding of rpc/values.ts. */
export function resultJson(r: ResultSet): unknown {
  const rows = r.rows.map(rowToWire);
  return { rows, fields: r.fields, rowCount: r.rows.length, affected: r.affected };
}
