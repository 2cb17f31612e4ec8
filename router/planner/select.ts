/**
 * A SELECT that reaches several shards: each shard sorts, dedupes and limits its own rows
 * (LIMIT pushed down as limit + offset), VTGate merges the sorted streams and applies
 * DISTINCT, OFFSET and LIMIT to the whole. Aggregates go through aggregate.ts.
 */
import type { Expr, OrderByStatement, SelectedColumn, SelectFromStatement } from 'pgsql-ast-parser';
import { VitessError } from '../../rpc/errors.js';
import { HIDDEN, type Primitive, type Route, type SortKey, type Target, type ValueSource } from './plan.js';
import { renderStatement } from '../../engines/dialect/pg-render.js';
import { compactParams, maxParam, valueSource } from './sql.js';

export interface RouteBase {
  keyspace: string;
  shards: string[];
  target: Target;
}

export function routeOf(base: RouteBase, sql: string, params: ValueSource[]): Route {
  return { op: 'Route', keyspace: base.keyspace, shards: base.shards, target: base.target, sql, params };
}

/** The statement unchanged, with every parameter bound as given. */
export function passThrough(base: RouteBase, sql: string): Route {
  return routeOf(
    base,
    sql,
    Array.from({ length: maxParam(sql) }, (_, i) => ({ param: i })),
  );
}

const refused = (construct: string, why: string) => new VitessError('UNSUPPORTED', `${construct} ${why}`, { construct });

/** LIMIT/OFFSET values: literals or parameters, so VTGate can apply them after merging. */
export function limitOf(ast: SelectFromStatement, source: string): { count?: ValueSource; offset?: ValueSource } {
  const one = (e: Expr | null | undefined, what: string): ValueSource | undefined => {
    if (!e) return undefined;
    const v = valueSource(e, source);
    if (!v) throw refused(`${what} with an expression`, 'is not supported across shards: write a number or a parameter');
    return v;
  };
  return { count: one(ast.limit?.limit, 'LIMIT'), offset: one(ast.limit?.offset, 'OFFSET') };
}

/** A parameter node numbered past every parameter of the statement. */
export function extraParam(sql: string, extra: Map<number, ValueSource>, value: ValueSource): Expr {
  const n = Math.max(maxParam(sql), ...extra.keys(), 0) + 1;
  extra.set(n, value);
  return { type: 'parameter', name: `$${n}` };
}

/** Sort direction of an ORDER BY item, with Postgres's NULL placement made explicit. */
export function direction(o: OrderByStatement): { desc: boolean; nullsFirst: boolean } {
  const desc = o.order === 'DESC';
  return { desc, nullsFirst: o.nulls ? o.nulls === 'FIRST' : desc };
}

export function planMergedSelect(ast: SelectFromStatement, source: string, base: RouteBase): Primitive {
  if (Array.isArray(ast.distinct)) throw refused('DISTINCT ON', 'is not supported across shards');
  const distinct = ast.distinct === 'distinct';
  const { count, offset } = limitOf(ast, source);
  if (!ast.orderBy?.length && !distinct && !count && !offset) return passThrough(base, source);

  const columns = ast.columns ?? [];
  const hidden: SelectedColumn[] = [];
  const keys: SortKey[] = [];
  const shardOrder: OrderByStatement[] = [];
  (ast.orderBy ?? []).forEach((o, i) => {
    const dir = direction(o);
    let by = o.by;
    let alias: string | undefined;
    if (by.type === 'integer') {
      const item = columns[by.value - 1];
      if (!item) throw new VitessError('INVALID', `ORDER BY position ${by.value} is not in the select list`);
      if (item.expr.type === 'ref' && item.expr.name === '*')
        throw refused(`ORDER BY ${by.value}`, 'points into *, which VTGate cannot expand: name the column');
      by = item.expr;
      alias = item.alias?.name;
    } else if (by.type === 'ref' && !by.table) {
      const name = by.name;
      if (columns.some((c) => c.alias?.name === name)) alias = name;
    }
    if (alias !== undefined) {
      // An output column: shards sort by it under its own name.
      keys.push({ column: alias, ...dir });
      shardOrder.push({ by: { type: 'ref', name: alias }, order: dir.desc ? 'DESC' : 'ASC', nulls: dir.nullsFirst ? 'FIRST' : 'LAST' });
      return;
    }
    const name = `${HIDDEN}o${i}`;
    hidden.push({ expr: by, alias: { name } });
    keys.push({ column: name, ...dir });
    shardOrder.push({ by, order: dir.desc ? 'DESC' : 'ASC', nulls: dir.nullsFirst ? 'FIRST' : 'LAST' });
  });

  // Output names may repeat (a.id, b.id): DISTINCT compares hidden copies that cannot collide.
  const star = columns.some((c) => c.expr.type === 'ref' && c.expr.name === '*');
  const distinctOn =
    distinct && !star
      ? columns.map((c, i) => {
          const name = `${HIDDEN}d${i}`;
          hidden.push({ expr: c.expr, alias: { name } });
          return name;
        })
      : undefined;

  const extra = new Map<number, ValueSource>();
  const pushed = count && (offset ? { sum: [count, offset] } : count);
  const shardAst: SelectFromStatement = {
    ...ast,
    columns: [...columns, ...hidden],
    orderBy: shardOrder.length ? shardOrder : null,
    limit: pushed ? { limit: extraParam(source, extra, pushed) } : null,
  };
  const { sql, params } = compactParams(renderStatement(shardAst, source), extra);
  const route = routeOf(base, sql, params);
  let root: Primitive = keys.length ? { op: 'MergeSort', input: route, keys } : route;
  const drop = hidden.map((h) => h.alias!.name);
  if (distinct) root = { op: 'Distinct', input: root, ...(distinctOn && { columns: distinctOn }), ignore: drop };
  if (count || offset) root = { op: 'Limit', input: root, ...(count && { count }), ...(offset && { offset }) };
  if (drop.length) root = { op: 'Project', input: root, drop };
  return root;
}
