/**
 * A split multi-row INSERT's RETURNING rows put back in VALUES order, the order one database
 * returns them in. Each shard answers for the rows it was sent; a returned row is matched to its
 * VALUES row by the vindex column when RETURNING has it (whatever order the shard returns them
 * in, and however many ON CONFLICT DO NOTHING skipped), else by its place among the rows sent to
 * that shard. Without the vindex column, rows a shard skipped leave the others at the places of
 * the first rows it was sent: shard-relative order is kept, not exact order (docs/routing.md).
 */
import type { ResultSet, Row } from '../../rpc/results.js';
import type { SqlValue } from '../../rpc/values.js';
import { valueKey } from './compare.js';

/** One statement of a split INSERT: the VALUES positions and vindex values of its rows, and its answer. */
export interface SentRows {
  positions: number[];
  keys: SqlValue[];
  result: ResultSet;
}

export function inValuesOrder(sent: SentRows[], keyColumn: string): ResultSet {
  const placed: { at: number; row: Row }[] = sent.flatMap((s) => {
    const at = byKey(s, keyColumn) ?? s.result.rows.map((_, j) => s.positions[j] ?? Number.MAX_SAFE_INTEGER);
    return s.result.rows.map((row, j) => ({ at: at[j]!, row }));
  });
  return {
    // A stable sort: rows at one place (none in practice) keep the order they came in.
    rows: placed.sort((a, b) => a.at - b.at).map((p) => p.row),
    fields: sent.find((s) => s.result.fields.length)?.result.fields ?? [],
    affected: sent.reduce((n, s) => n + s.result.affected, 0),
  };
}

/** The VALUES position of each returned row, by its vindex value (repeated values in the order sent); undefined when a row has none to match. */
function byKey(s: SentRows, keyColumn: string): number[] | undefined {
  const type = s.result.fields.find((f) => f.name === keyColumn)?.type;
  if (type === undefined) return undefined;
  const free = new Map<string, number[]>();
  s.keys.forEach((k, i) => {
    const key = valueKey(k, type);
    const list = free.get(key);
    if (list) list.push(s.positions[i]!);
    else free.set(key, [s.positions[i]!]);
  });
  const out: number[] = [];
  for (const row of s.result.rows) {
    const at = free.get(valueKey(row[keyColumn] ?? null, type))?.shift();
    if (at === undefined) return undefined;
    out.push(at);
  }
  return out;
}
