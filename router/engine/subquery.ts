/**
 * Uncorrelated subqueries (a plan's `Subquery`, Vitess's `UncorrelatedSubquery`): each input runs
 * first, then the outer primitive runs with the results written into a copy of its routes. The
 * cached plan is never changed. A value goes into the SQL text as a literal where it has one
 * (numbers, text, booleans, NULL), else as a parameter: an IN list of any length then costs no
 * parameters, and each value is typed by its context, as a bound parameter would be.
 */
import { LIMITS } from '../../engines/limits.js';
import { VitessError } from '../../rpc/errors.js';
import type { ResultSet } from '../../rpc/results.js';
import type { SqlValue } from '../../rpc/values.js';
import type { Primitive, Route, Subquery, SubqueryInput, ValueSource } from '../planner/plan.js';
import { replaceParams } from '../planner/sql.js';

/** A subquery's result as parameter values: one for a value or EXISTS, any number for a list. */
interface Bound {
  values: SqlValue[];
  list: boolean;
}

export async function runSubquery(p: Subquery, run: (p: Primitive) => Promise<ResultSet>): Promise<ResultSet> {
  const bound = new Map<number, Bound>();
  // Bound with nothing, routes get only the parameters their SQL uses (a subquery's `$2` alone is `$1`).
  const results = await Promise.all(p.inputs.map((input) => run(bindInto(input.input, bound))));
  for (const [i, input] of p.inputs.entries()) bindResult(input, results[i]!, bound);
  return run(bindInto(p.outer, bound));
}

function bindResult(input: SubqueryInput, r: ResultSet, bound: Map<number, Bound>): void {
  if (input.kind === 'exists') {
    bound.set(input.param, { values: [r.rows.length > 0], list: false });
    return;
  }
  if (r.fields.length !== 1) {
    throw new VitessError(
      'INVALID',
      `subquery has ${r.fields.length} columns; a subquery used ${input.kind === 'list' ? 'with IN' : 'as an expression'} must return one`,
      {
        construct: 'subquery',
      },
    );
  }
  const column = r.fields[0]!.name;
  const values = r.rows.map((row) => row[column] ?? null);
  if (input.kind === 'value') {
    // Postgres's cardinality_violation: as it would say it.
    if (values.length > 1) throw new VitessError('INVALID', 'more than one row returned by a subquery used as an expression', { construct: 'subquery' });
    bound.set(input.param, { values: [values[0] ?? null], list: false });
    return;
  }
  bound.set(input.param, { values, list: true });
  bound.set(input.present!, { values: [values.length > 0], list: false });
}

/** A copy of `p` whose routes have the bound values in place of their parameters, and no parameter they do not use. */
function bindInto(p: Primitive, bound: Map<number, Bound>): Primitive {
  const copy = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(copy);
    if (!node || typeof node !== 'object') return node;
    if ((node as Primitive).op === 'Route') return bindRoute(node as Route, bound);
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, copy(v)]));
  };
  return copy(p) as Primitive;
}

const boundOf = (src: ValueSource | undefined, bound: Map<number, Bound>): Bound | undefined => (src && 'param' in src ? bound.get(src.param) : undefined);

function bindRoute(r: Route, bound: Map<number, Bound>): Route {
  const params: ValueSource[] = [];
  const kept = new Map<number, number>();
  const sql = replaceParams(r.sql, (n) => {
    const src = r.params[n - 1];
    const b = boundOf(src, bound);
    if (!b) {
      let m = kept.get(n);
      if (m === undefined) kept.set(n, (m = params.push(src!)));
      return `$${m}`;
    }
    // An empty list stays valid SQL; the planner's `present` test decides what it matches.
    if (!b.values.length) return 'NULL';
    return b.values.map((v) => literal(v) ?? `$${params.push({ literal: v })}`).join(', ');
  });
  if (sql.length > LIMITS.statementBytes / 3 && new TextEncoder().encode(sql).length > LIMITS.statementBytes) {
    throw new VitessError(
      'LIMIT_EXCEEDED',
      `the values of a subquery make the statement sent to the shards larger than ${LIMITS.statementBytes} bytes (100 KB): narrow the subquery, or join on the sharding column instead`,
      { limit: 'statement size', construct: 'subquery' },
    );
  }
  const t = r.target;
  const target =
    t.type === 'vindex' || t.type === 'lookup'
      ? { ...t, values: t.values.flatMap((v) => boundOf(v, bound)?.values.map((x): ValueSource => ({ literal: x })) ?? [v]) }
      : t;
  return { ...r, sql, params, target };
}

/** A value as Postgres literal text, typed by its context as a parameter would be; undefined for values written as parameters. */
function literal(v: SqlValue): string | undefined {
  if (v === null) return 'NULL';
  if (typeof v === 'boolean') return v ? 'TRUE' : 'FALSE';
  // In parentheses when negative: `a - $1` must not become a comment, `a --3`.
  if (typeof v === 'bigint') return v < 0n ? `(${v})` : v.toString();
  if (typeof v === 'number') return !Number.isFinite(v) ? undefined : v < 0 ? `(${v})` : String(v);
  // A NUL would end the statement's text for SQLite: such a value stays a parameter.
  if (typeof v === 'string') return v.includes('\0') ? undefined : `'${v.replace(/'/g, "''")}'`;
  return undefined;
}
