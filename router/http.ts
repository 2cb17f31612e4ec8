import { asVitessError, type ErrorCode } from '../rpc/errors.js';
import type { ResultSet } from '../rpc/results.js';
import { rowToWire } from '../rpc/values.js';

const STATUS: Record<ErrorCode, number> = {
  SYNTAX: 400, UNSUPPORTED: 400, CONSTRAINT: 400, INVALID: 400, LIMIT_EXCEEDED: 400,
  NOT_FOUND: 404, CONFLICT: 409, TIMEOUT: 504, UNAVAILABLE: 503, INTERNAL: 500,
};

export function errorResponse(e: unknown): Response {
  const err = asVitessError(e);
  return Response.json({ error: err.toJSON() }, { status: STATUS[err.code] });
}

/** A result as JSON: values in the tagged wire encoding of rpc/values.ts. */
export function resultJson(r: ResultSet): unknown {
  const rows = r.rows.map(rowToWire);
  return { rows, fields: r.fields, rowCount: r.rows.length, affected: r.affected };
}
