/**
 * Uncorrelated subqueries over sharded tables in WHERE (Vitess's pulled-out subqueries): each is
 * planned on its own (it may scatter and aggregate), runs first, and its result is bound as
 * parameters of the outer statement, planned with `$n` in its place:
 *   `(SELECT …)`            → `$v`                       (one value; NULL without rows)
 *   `x IN (SELECT …)`       → `($p AND x IN ($l))`       ($l the values, $p whether there are any)
 *   `x NOT IN (SELECT …)`   → `(NOT $p OR x NOT IN ($l))`
 *   `EXISTS (SELECT …)`     → `$e`
 * so `x IN (…)` on a vindex column still routes to the shards of the values, and the plan stays
 * data: the values are looked up when it runs (router/engine/subquery.ts). A subquery that refers
 * to the outer query's columns (correlated) is refused, naming the column.
 */
import type { Expr, SelectedColumn, Statement } from 'pgsql-ast-parser';
import { mapTree, tablesIn, walk } from '../../engines/dialect/ast.js';
import { renderStatement } from '../../engines/dialect/pg-render.js';
import { VitessError } from '../../rpc/errors.js';
import type { Plan, SubqueryInput } from './plan.js';
import type { TableRouting } from './route.js';
import type { SchemaInfo } from './schema.js';
import { isSubquery, maxParam } from './sql.js';

type Node = Record<string, unknown>;
const param = (i: number): Expr => ({ type: 'parameter', name: `$${i + 1}` });

/**
 * The plan of a SELECT, UPDATE or DELETE whose WHERE has subqueries over sharded tables, or
 * undefined when it has none. `plan` plans a statement's text (the subqueries, the outer statement).
 */
export function planSubqueries(
  ast: Statement,
  source: string,
  routing: (t: string) => TableRouting,
  schema: SchemaInfo,
  plan: (sql: string) => Plan,
): Plan | undefined {
  if (ast.type !== 'select' && ast.type !== 'update' && ast.type !== 'delete') return undefined;
  const where = ast.where;
  const sharded = (n: unknown) => tablesIn(n).some((t) => routing(t).kind === 'sharded');
  if (!where || !containsSubquery(where, sharded)) return undefined;

  const outerTables = tablesIn({ ...ast, where: null });
  let next = maxParam(source);
  const found: { kind: SubqueryInput['kind']; param: number; present?: number; sql: string }[] = [];
  const pull = (sub: Node, kind: SubqueryInput['kind']): number => {
    refuseCorrelated(sub, source, outerTables, schema, routing);
    if (kind !== 'exists') oneColumn(sub, kind);
    const at = next++;
    const present = kind === 'list' ? next++ : undefined;
    found.push({ kind, param: at, ...(present !== undefined && { present }), sql: renderStatement(sub as unknown as Statement, source) });
    return at;
  };
  const rewrite = (e: Expr): Expr =>
    mapTree(e, (n) => {
      const x = n as unknown as Expr;
      if (x.type === 'binary' && (x.op === 'IN' || x.op === 'NOT IN') && isSubquery(x.right as unknown as Node) && sharded(x.right)) {
        const list = pull(x.right as unknown as Node, 'list');
        const present = list + 1;
        const test: Expr = { type: 'binary', op: x.op, left: rewrite(x.left), right: param(list) };
        return x.op === 'IN'
          ? { type: 'binary', op: 'AND', left: param(present), right: test }
          : { type: 'binary', op: 'OR', left: { type: 'unary', op: 'NOT', operand: param(present) }, right: test };
      }
      if (x.type === 'call' && !x.function.schema && sharded(x)) {
        const fn = x.function.name.toLowerCase();
        const arg = x.args[0] as unknown as Node | undefined;
        if (fn === 'exists' && x.args.length === 1 && isSubquery(arg!)) return param(pull(arg!, 'exists'));
        if ((fn === 'any' || fn === 'some' || fn === 'all') && arg && isSubquery(arg)) {
          throw new VitessError(
            'UNSUPPORTED',
            `${fn.toUpperCase()} (subquery) over sharded table ${tablesIn(arg).find((t) => routing(t).kind === 'sharded')} is not supported across shards: write x IN (subquery) for = ANY`,
            { construct: `${fn.toUpperCase()} (subquery)` },
          );
        }
      }
      if (isSubquery(n) && sharded(n)) return param(pull(n, 'value'));
      return undefined;
    });

  const outerAst = { ...ast, where: rewrite(where) } as Statement;
  const outer = plan(renderStatement(outerAst, source));
  const inputs: SubqueryInput[] = [];
  const tables = new Set(outer.tables);
  for (const f of found) {
    const inner = plan(f.sql);
    if (inner.statement !== 'select')
      throw new VitessError('UNSUPPORTED', `a subquery must be a query, not ${inner.statement.toUpperCase()}`, { construct: 'subquery' });
    for (const t of inner.tables) tables.add(t);
    inputs.push({ kind: f.kind, param: f.param, ...(f.present !== undefined && { present: f.present }), input: inner.root });
  }
  return { ...outer, root: { op: 'Subquery', inputs, outer: outer.root }, tables: [...tables] };
}

function containsSubquery(e: Expr, sharded: (n: unknown) => boolean): boolean {
  let found = false;
  walk(e, (n) => {
    if (isSubquery(n) && sharded(n)) found = true;
    return !found;
  });
  return found;
}

/** IN and a scalar subquery take one column (`*` is checked on the result). */
function oneColumn(sub: Node, kind: SubqueryInput['kind']): void {
  if (sub.type !== 'select') return;
  const columns = (sub.columns ?? []) as SelectedColumn[];
  const star = columns.some((c) => c.expr.type === 'ref' && c.expr.name === '*');
  if (columns.length > 1 || (!star && columns.length !== 1)) {
    throw new VitessError('INVALID', kind === 'list' ? 'subquery has too many columns' : 'subquery must return only one column', { construct: 'subquery' });
  }
}

/**
 * Refuses a subquery that names a column of the outer query: a table alias it does not define,
 * or (when the columns of its own tables are known) a column none of them has but an outer table does.
 */
function refuseCorrelated(sub: Node, source: string, outerTables: string[], schema: SchemaInfo, routing: (t: string) => TableRouting): void {
  const defined = new Set<string>();
  const names = new Set<string>();
  walk(sub, (n) => {
    if (n.type === 'table' && n.name && typeof n.name === 'object') {
      const t = n.name as { name: string; alias?: string };
      defined.add(t.alias ?? t.name);
      defined.add(t.name);
    }
    if (n.type === 'statement' && typeof n.alias === 'string') defined.add(n.alias);
    if (Array.isArray(n.columns)) for (const c of n.columns as Partial<SelectedColumn>[]) if (c?.alias?.name) names.add(c.alias.name);
  });
  const own = tablesIn(sub);
  const columns = own.map((t) => schema.columns(t));
  const known = columns.every((c) => c !== undefined);
  for (const c of columns) for (const col of c ?? []) names.add(col.name);
  let outer: string | undefined;
  walk(sub, (n) => {
    if (outer !== undefined || n.type !== 'ref' || n.name === '*') return outer === undefined;
    const table = (n.table as { name: string } | undefined)?.name;
    const name = n.name as string;
    if (table !== undefined && !defined.has(table)) outer = `${table}.${name}`;
    else if (table === undefined && known && !names.has(name) && outerTables.some((t) => schema.columns(t)?.some((c) => c.name === name))) outer = name;
  });
  if (outer === undefined) return;
  const table = own.find((t) => routing(t).kind === 'sharded');
  const text = renderStatement(sub as unknown as Statement, source)
    .replace(/\s+/g, ' ')
    .trim();
  throw new VitessError(
    'UNSUPPORTED',
    `correlated subquery (${text}) over sharded table ${table} is not supported across shards: it refers to ${outer} of the outer query, so it would run once per outer row on every shard. Join on the sharding column instead, or make it uncorrelated`,
    { construct: 'correlated subquery', ...(table && { table }) },
  );
}
