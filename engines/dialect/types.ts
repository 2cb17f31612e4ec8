import type { BasicDataTypeDef, DataTypeDef } from 'pgsql-ast-parser';
import type { SqlType } from '../../rpc/values.js';
import { VitessError } from '../../rpc/errors.js';

/** Postgres type names (and aliases) → the engine-neutral type. */
const PG_TYPES: Record<string, SqlType> = {
  bool: 'bool',
  boolean: 'bool',
  int2: 'int2',
  smallint: 'int2',
  int: 'int4',
  int4: 'int4',
  integer: 'int4',
  serial: 'int4',
  serial4: 'int4',
  int8: 'int8',
  bigint: 'int8',
  bigserial: 'int8',
  serial8: 'int8',
  real: 'float4',
  float4: 'float4',
  'double precision': 'float8',
  float8: 'float8',
  float: 'float8',
  numeric: 'numeric',
  decimal: 'numeric',
  text: 'text',
  varchar: 'text',
  'character varying': 'text',
  char: 'text',
  character: 'text',
  bpchar: 'text',
  json: 'json',
  jsonb: 'jsonb',
  bytea: 'bytea',
  date: 'date',
  timestamp: 'timestamp',
  'timestamp without time zone': 'timestamp',
  timestamptz: 'timestamptz',
  'timestamp with time zone': 'timestamptz',
  uuid: 'uuid',
};

export function isSerial(t: DataTypeDef): boolean {
  return t.kind !== 'array' && /^(big)?serial[48]?$/.test(t.name);
}

export function pgTypeOf(t: DataTypeDef): SqlType {
  if (t.kind === 'array') throw new VitessError('UNSUPPORTED', 'array types are not supported on SQLite engines', { construct: 'array type' });
  const type = PG_TYPES[t.name.toLowerCase()];
  if (!type) throw new VitessError('UNSUPPORTED', `type ${t.name} is not supported on SQLite engines`, { construct: `type ${t.name}` });
  return type;
}

/**
 * SQLite declared type for a column. The declared type keeps the Postgres name (so the
 * catalog can read it back) and a suffix that gives SQLite the right affinity: TEXT keeps
 * json/uuid/date/timestamp text unconverted, BLOB keeps bytes.
 */
export function sqliteDeclaredType(t: BasicDataTypeDef): string {
  const type = pgTypeOf(t);
  const config = t.config?.length ? `(${t.config.join(',')})` : '';
  switch (type) {
    case 'bool':
      return 'BOOLEAN';
    case 'int2':
      return 'SMALLINT';
    case 'int4':
      return 'INT';
    case 'int8':
      return 'BIGINT';
    case 'float4':
      return 'REAL';
    case 'float8':
      return 'DOUBLE PRECISION';
    case 'numeric':
      return `NUMERIC${config}`;
    case 'text':
      return t.name.toLowerCase() === 'text' ? 'TEXT' : `VARCHAR${config}`;
    case 'json':
      return 'JSON TEXT';
    case 'jsonb':
      return 'JSONB TEXT';
    case 'bytea':
      return 'BYTEA BLOB';
    case 'date':
      return 'DATE TEXT';
    case 'timestamp':
      return 'TIMESTAMP TEXT';
    case 'timestamptz':
      return 'TIMESTAMPTZ TEXT';
    case 'uuid':
      return 'UUID TEXT';
    default:
      throw new VitessError('UNSUPPORTED', `type ${t.name} is not supported on SQLite engines`, { construct: `type ${t.name}` });
  }
}

/** The reverse of `sqliteDeclaredType`, for catalog reads (`pragma_table_info`). */
export function typeFromSqliteDecl(decl: string): SqlType {
  const d = decl
    .toUpperCase()
    .replace(/\(.*\)/, '')
    .trim();
  const known: Record<string, SqlType> = {
    BOOLEAN: 'bool',
    SMALLINT: 'int2',
    INT: 'int4',
    INTEGER: 'int8',
    BIGINT: 'int8',
    REAL: 'float4',
    'DOUBLE PRECISION': 'float8',
    NUMERIC: 'numeric',
    TEXT: 'text',
    VARCHAR: 'text',
    'JSON TEXT': 'json',
    'JSONB TEXT': 'jsonb',
    'BYTEA BLOB': 'bytea',
    'DATE TEXT': 'date',
    'TIMESTAMP TEXT': 'timestamp',
    'TIMESTAMPTZ TEXT': 'timestamptz',
    'UUID TEXT': 'uuid',
  };
  return known[d] ?? 'unknown';
}

/** Timestamps are stored as ISO-8601 UTC text with milliseconds, so text order is time order. */
export const TIMESTAMP_FORMAT = `'%Y-%m-%dT%H:%M:%fZ'`;
