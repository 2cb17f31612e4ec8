import type { PGliteInterface, Results, Transaction } from '@electric-sql/pglite';
import { VitessError } from '../rpc/errors.js';
import type { ResultSet, Row, Statement } from '../rpc/results.js';
import { canonicalNumeric, isJsonObject, normalizeInt, type SqlType, type SqlValue } from '../rpc/values.js';
import type { BatchOptions, Executor, StorageEngine } from './engine.js';
import { checkBatchSize, checkStatementSize, checkValueSize, LIMITS, refuseTransactionControl } from './limits.js';
import { pgError } from './pg-errors.js';
import { TransactionHandle } from './transaction.js';

/** Postgres type OIDs → the engine-neutral type. */
const OID_TYPES: Record<number, SqlType> = {
  16: 'bool', 21: 'int2', 23: 'int4', 20: 'int8', 700: 'float4', 701: 'float8', 1700: 'numeric',
  25: 'text', 1043: 'text', 1042: 'text', 19: 'text', 705: 'text', 114: 'json', 3802: 'jsonb',
  17: 'bytea', 1082: 'date', 1114: 'timestamp', 1184: 'timestamptz', 2950: 'uuid',
};

/** Numeric compares by value across engines; dates stay `YYYY-MM-DD` (see rpc/values.ts). */
const PARSERS = { 1700: canonicalNumeric, 1082: (s: string) => s };

const encoder = new TextEncoder();

/** PGlite would send a JS array as a Postgres array: JSON values are sent as JSON text instead. */
function bindParams(params: SqlValue[]): unknown[] {
  if (params.length > LIMITS.paramsPerStatement) {
    throw new VitessError('LIMIT_EXCEEDED', `statement binds ${params.length} parameters; the limit is ${LIMITS.paramsPerStatement} per statement`, { limit: 'parameters per statement' });
  }
  return params.map((v, i) => {
    if (typeof v === 'string') checkValueSize(encoder.encode(v).length, i);
    if (v instanceof Uint8Array) checkValueSize(v.byteLength, i);
    return isJsonObject(v) ? JSON.stringify(v) : v;
  });
}

function toResult(r: Results<Row>): ResultSet {
  const fields = (r.fields ?? []).map((f) => ({ name: f.name, type: OID_TYPES[f.dataTypeID] ?? ('unknown' as const) }));
  const rows = r.rows.map((row) => {
    for (const f of fields) {
      const v = row[f.name];
      if (typeof v === 'bigint') row[f.name] = normalizeInt(v);
    }
    return row;
  });
  const dml = r.command === 'INSERT' || r.command === 'UPDATE' || r.command === 'DELETE' || r.command === 'MERGE';
  return { rows, fields, affected: dml ? r.affectedRows ?? 0 : 0 };
}

/** Postgres through PGlite, in Node, browsers or a Durable Object (see pglite-workerd.ts). */
export class PgliteEngine implements StorageEngine {
  readonly kind = 'pglite';

  constructor(readonly pg: PGliteInterface) {}

  private async run(on: PGliteInterface | Transaction, sql: string, params: SqlValue[] = []): Promise<ResultSet> {
    refuseTransactionControl(sql);
    checkStatementSize(sql);
    try {
      return toResult(await on.query<Row>(sql, bindParams(params), { parsers: PARSERS }));
    } catch (e) {
      throw pgError(e);
    }
  }

  query(sql: string, params?: SqlValue[]): Promise<ResultSet> {
    return this.run(this.pg, sql, params);
  }

  async execute(sql: string, params?: SqlValue[]): Promise<{ affected: number }> {
    return { affected: (await this.query(sql, params)).affected };
  }

  async batch(statements: Statement[], opts: BatchOptions = {}): Promise<ResultSet[]> {
    checkBatchSize(statements.length);
    const all = async (on: PGliteInterface | Transaction) => {
      const out: ResultSet[] = [];
      for (const s of statements) out.push(await this.run(on, s.sql, s.params));
      return out;
    };
    return opts.atomic ? this.pg.transaction(all) : all(this.pg);
  }

  transaction<T>(fn: (tx: Executor) => Promise<T>): Promise<T> {
    return this.pg.transaction((t) => TransactionHandle.run({ query: (sql, params) => this.run(t, sql, params) }, fn));
  }

  async close(): Promise<void> {
    await this.pg.close();
  }
}
