/**
 * A plain `UPDATE … SET body = $1 …` of a column the vschema declares a Yjs column (docs/yjs.md)
 * merges the update into each matching row's state instead of replacing it. Pure: this turns the
 * statement into a SELECT of the matching rows (key and states) and, per row, an UPDATE by key
 * writing the merged states; `Session` runs them in one transaction.
 */
import { renderExpr } from '../engines/dialect/pg-render.js';
import type { Parsed } from '../engines/dialect/parse.js';
import { quoteIdent } from '../engines/dialect/sql-text.js';
import { VitessError } from '../rpc/errors.js';
import type { SqlValue } from '../rpc/values.js';
import { yjsUpdate } from '../rpc/yjs-state.js';
import type { ValueSource } from './planner/plan.js';
import { compactParams, maxParam, valueSource } from './planner/sql.js';

export interface YjsUpdate {
  table: string;
  /** The updates to merge, one per Yjs column the statement sets, in `columns` order. */
  columns: string[];
  updates: Uint8Array[];
  /** The matching rows: their primary key, then each Yjs column's state (`__vt_yjs_<i>`). */
  select: { sql: string; params: SqlValue[] };
  primaryKey: string[];
  /** The statement writing one row: its other assignments as written, the merged states, by key. */
  write(key: SqlValue[], states: Uint8Array[]): { sql: string; params: SqlValue[] };
}

const unsupported = (construct: string, why: string) => new VitessError('UNSUPPORTED', `${construct} ${why}`, { construct });

/** The rewrite of `parsed` when it is an UPDATE setting one of `yjsColumns` of its table; undefined otherwise. */
export function planYjsUpdate(parsed: Parsed, params: SqlValue[], yjsColumns: ReadonlySet<string>, primaryKey: string[] | undefined): YjsUpdate | undefined {
  const { ast, source } = parsed;
  if (ast.type !== 'update') return undefined;
  const merges = ast.sets.filter((s) => yjsColumns.has(s.column.name));
  if (!merges.length) return undefined;
  const table = ast.table.name;
  const what = (column: string) => `Yjs column "${column}" of table "${table}"`;
  if (ast.returning?.length) throw unsupported('RETURNING', `on an UPDATE of ${what(merges[0]!.column.name)}: read the row after it`);
  if (ast.from) throw unsupported('UPDATE … FROM', `on ${what(merges[0]!.column.name)}`);
  if (!primaryKey?.length)
    throw new VitessError('INVALID', `table "${table}" has no primary key known to VTGate: a Yjs column is merged row by row`, { table });
  const updates = merges.map((s) => {
    const v = valueSource(s.value, source);
    if (!v || !('param' in v))
      throw unsupported(
        `SET ${s.column.name} = …`,
        `on ${what(s.column.name)}: it is set from a parameter holding a Yjs update, which is merged into the state`,
      );
    return yjsUpdate(params[v.param], what(s.column.name));
  });
  const columns = merges.map((s) => s.column.name);
  const resolve = (vs: ValueSource[]) => vs.map((v) => ('param' in v ? (params[v.param] ?? null) : 'literal' in v ? v.literal : null));
  const from = `${quoteIdent(table)}${ast.table.alias ? ` AS ${quoteIdent(ast.table.alias)}` : ''}`;
  const where = ast.where ? renderExpr(ast.where, source) : 'true';
  const selected = compactParams(
    `SELECT ${[...primaryKey.map(quoteIdent), ...columns.map((c, i) => `${quoteIdent(c)} AS __vt_yjs_${i}`)].join(', ')} FROM ${from} WHERE ${where}`,
  );
  const others = ast.sets.filter((s) => !yjsColumns.has(s.column.name)).map((s) => `${quoteIdent(s.column.name)} = ${renderExpr(s.value, source)}`);
  // New parameters go after the statement's own: the other assignments keep their numbers.
  const base = Math.max(params.length, ...others.map(maxParam));
  return {
    table,
    columns,
    updates,
    primaryKey,
    select: { sql: selected.sql, params: resolve(selected.params) },
    write(key, states) {
      const extra = new Map<number, ValueSource>();
      const param = (v: SqlValue) => {
        const n = base + extra.size + 1;
        extra.set(n, { literal: v });
        return `$${n}`;
      };
      const sets = [...others, ...columns.map((c, i) => `${quoteIdent(c)} = ${param(states[i]!)}`)];
      const byKey = primaryKey.map((k, i) => `${quoteIdent(k)} = ${param(key[i] ?? null)}`);
      const w = compactParams(`UPDATE ${from} SET ${sets.join(', ')} WHERE ${byKey.join(' AND ')}`, extra);
      return { sql: w.sql, params: resolve(w.params) };
    },
  };
}
