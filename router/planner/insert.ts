/**
 * INSERT into a sharded table: split by row. Each row's vindex value (a literal or a parameter)
 * picks its shard when the plan runs; rows of one shard are sent together, in chunks under the
 * parameter limit, with the parameters renumbered. Lookup entries are written first.
 */
import type { Expr, InsertStatement } from 'pgsql-ast-parser';
import { VitessError } from '../../rpc/errors.js';
import type { Insert, InsertRow, ValueSource } from './plan.js';
import type { TableRouting } from './route.js';
import type { SchemaInfo } from './schema.js';
import { renderExpr, renderStatement } from '../../engines/dialect/pg-render.js';
import { compactParams, valueSource } from './sql.js';

const MARKER = '$__vtgate_row__';

export function planShardedInsert(
  ast: InsertStatement,
  source: string,
  routing: TableRouting,
  schema: SchemaInfo,
  base: { keyspace: string; shards: string[] },
): Insert {
  const table = routing.name;
  const vindex = routing.vindex;
  if (!vindex) {
    throw new VitessError(
      'NOT_FOUND',
      `VTGate does not know how table "${table}" is sharded: name its vindex in the vschema, or create it through VTGate so its primary key is known`,
      { table },
    );
  }
  if (ast.insert.type !== 'values') {
    throw new VitessError(
      'UNSUPPORTED',
      `INSERT … SELECT into sharded table "${table}" is not supported: each row must be routed by its own ${vindex.column}; select the rows, then insert them with VALUES`,
      { construct: 'INSERT … SELECT', table },
    );
  }
  const columns = ast.columns?.map((c) => c.name) ?? schema.columns(table)?.map((c) => c.name);
  if (!columns) {
    throw new VitessError('INVALID', `INSERT INTO ${table} without a column list: VTGate does not know the columns of "${table}"; name them`, { table });
  }
  const keyAt = columns.indexOf(vindex.column);
  if (keyAt < 0) {
    throw new VitessError(
      'INVALID',
      `INSERT into sharded table "${table}" must give its vindex column "${vindex.column}" a value: it picks the row's shard (declare the column BIGSERIAL to have VTGate draw it from a global sequence, or supply ids, e.g. UUIDs)`,
      { table, columns: [vindex.column] },
    );
  }
  const sets = ast.onConflict && ast.onConflict.do !== 'do nothing' ? ast.onConflict.do.sets.map((s) => s.column.name) : [];
  for (const c of [vindex.column, ...routing.lookups.map((l) => l.column)]) {
    if (sets.includes(c)) {
      throw new VitessError(
        'UNSUPPORTED',
        `ON CONFLICT DO UPDATE may not change "${c}" of sharded table "${table}": it is a vindex column, which places the row`,
        { construct: 'ON CONFLICT DO UPDATE of a vindex column', table, columns: [c] },
      );
    }
  }

  const cell = (row: Expr[], at: number, n: number, what: string): ValueSource => {
    if (at < 0) return { literal: null };
    const v = valueSource(row[at]!, source);
    if (!v) {
      throw new VitessError(
        'UNSUPPORTED',
        `row ${n + 1} of the INSERT into "${table}": the ${what} "${columns[at]}" must be a literal or a parameter, so VTGate can route the row`,
        { construct: 'computed vindex value', table, columns: [columns[at]!] },
      );
    }
    return v;
  };
  const lookupAt = routing.lookups.map((l) => columns.indexOf(l.column));
  const rows: InsertRow[] = ast.insert.values.map((row, n) => {
    if (row.length !== columns.length) {
      throw new VitessError('INVALID', `row ${n + 1} of the INSERT into "${table}" has ${row.length} values for ${columns.length} columns`, { table });
    }
    const { sql, params } = compactParams(`(${row.map((e) => renderExpr(e, source)).join(', ')})`);
    return { sql, params, key: cell(row, keyAt, n, 'vindex column'), lookups: lookupAt.map((at) => cell(row, at, n, 'lookup column')) };
  });

  // Everything around the rows, rendered once: the rows go where the marker is.
  const shell = renderStatement({ ...ast, insert: { type: 'values', values: [[{ type: 'parameter', name: MARKER }]] } }, source);
  const at = shell.indexOf(`((${MARKER}))`);
  const tail = compactParams(shell.slice(at + MARKER.length + 4));
  return {
    op: 'Insert',
    keyspace: base.keyspace,
    shards: base.shards,
    table,
    vindex,
    head: shell.slice(0, at),
    tail: tail.sql,
    tailParams: tail.params,
    rows,
    lookups: routing.lookups,
  };
}
