/**
 * A VitessError as a Postgres ErrorResponse, pure: the SQLSTATE a Postgres server would have
 * sent. The shard's own SQLSTATE does not cross the gateway, only the error's code, message
 * and details, so the class is refined from the message (the engines word each constraint
 * violation the same way: engines/pg-errors.ts keeps Postgres's message, engines/sqlite-errors.ts
 * writes "unique constraint violated on …").
 */
import type { VitessError } from '../../rpc/errors.js';
import type { Notice } from './pg-messages.js';

/** SQLSTATEs ("PostgreSQL Error Codes") the proxy sends. */
export const SQLSTATE = {
  uniqueViolation: '23505',
  notNullViolation: '23502',
  foreignKeyViolation: '23503',
  checkViolation: '23514',
  exclusionViolation: '23P01',
  integrityConstraintViolation: '23000',
  stringDataRightTruncation: '22001',
  invalidTextRepresentation: '22P02',
  invalidParameterValue: '22023',
  syntaxError: '42601',
  undefinedTable: '42P01',
  undefinedColumn: '42703',
  undefinedFunction: '42883',
  undefinedObject: '42704',
  duplicateTable: '42P07',
  duplicateObject: '42710',
  duplicateColumn: '42701',
  invalidCatalogName: '3D000',
  featureNotSupported: '0A000',
  queryCanceled: '57014',
  serializationFailure: '40001',
  programLimitExceeded: '54000',
  invalidAuthorization: '28000',
  insufficientPrivilege: '42501',
  connectionFailure: '08006',
  internalError: 'XX000',
  inFailedTransaction: '25P02',
  invalidPreparedStatement: '26000',
  invalidCursorName: '34000',
  protocolViolation: '08P01',
} as const;

function constraintState(message: string): string {
  if (/unique constraint|duplicate key/i.test(message)) return SQLSTATE.uniqueViolation;
  if (/not-null constraint|null value in column/i.test(message)) return SQLSTATE.notNullViolation;
  if (/foreign key constraint/i.test(message)) return SQLSTATE.foreignKeyViolation;
  if (/check constraint/i.test(message)) return SQLSTATE.checkViolation;
  if (/exclusion constraint/i.test(message)) return SQLSTATE.exclusionViolation;
  if (/value too long/i.test(message)) return SQLSTATE.stringDataRightTruncation;
  return SQLSTATE.integrityConstraintViolation;
}

function notFoundState(message: string, table: string | undefined): string {
  if (/keyspace/i.test(message)) return SQLSTATE.invalidCatalogName;
  if (/\bcolumn\b/i.test(message)) return SQLSTATE.undefinedColumn;
  if (/\bfunction\b/i.test(message)) return SQLSTATE.undefinedFunction;
  if (/\b(relation|table)\b/i.test(message) || table) return SQLSTATE.undefinedTable;
  return SQLSTATE.undefinedObject;
}

function invalidState(message: string): string {
  if (/already exists/i.test(message))
    return /\bcolumn\b/i.test(message) ? SQLSTATE.duplicateColumn : /\b(relation|table)\b/i.test(message) ? SQLSTATE.duplicateTable : SQLSTATE.duplicateObject;
  if (/invalid input/i.test(message)) return SQLSTATE.invalidTextRepresentation;
  return SQLSTATE.invalidParameterValue;
}

/** The SQLSTATE for an error. */
export function sqlstateOf(e: VitessError): string {
  switch (e.code) {
    case 'CONSTRAINT':
      return constraintState(e.message);
    case 'SYNTAX':
      return SQLSTATE.syntaxError;
    case 'NOT_FOUND':
      return notFoundState(e.message, e.details.table);
    case 'INVALID':
      return invalidState(e.message);
    case 'UNSUPPORTED':
      return SQLSTATE.featureNotSupported;
    case 'TIMEOUT':
      return SQLSTATE.queryCanceled;
    case 'CONFLICT':
      return SQLSTATE.serializationFailure;
    case 'LIMIT_EXCEEDED':
      return SQLSTATE.programLimitExceeded;
    case 'UNAUTHENTICATED':
      return SQLSTATE.invalidAuthorization;
    case 'FORBIDDEN':
      return SQLSTATE.insufficientPrivilege;
    case 'UNAVAILABLE':
      return SQLSTATE.connectionFailure;
    default:
      return SQLSTATE.internalError;
  }
}

/** An ErrorResponse's fields for an error: its SQLSTATE, message, and what it names (table, column, constraint, position). */
export function errorNotice(e: VitessError, severity: 'ERROR' | 'FATAL' = 'ERROR'): Notice {
  const d = e.details;
  return {
    severity,
    code: sqlstateOf(e),
    message: e.message,
    ...(d.table && { table: d.table }),
    ...(d.columns?.length === 1 && { column: d.columns[0] }),
    ...(d.constraint && { constraint: d.constraint }),
    ...(d.position !== undefined && { position: d.position }),
    ...(d.limit && { detail: `limit: ${d.limit}` }),
  };
}
