/**
 * Aggregates across shards. Each shard groups its rows and returns partial aggregates
 * (AVG as SUM and COUNT); VTGate combines the partials per group, then applies HAVING,
 * DISTINCT, ORDER BY and LIMIT/OFFSET to the combined groups. count, sum and avg(DISTINCT x) are
 * Vitess's distinct aggregation: the shards group by x as well, VTGate counts each x once.
 */
import type { Expr, ExprCall, SelectedColumn, SelectFromStatement } from 'pgsql-ast-parser';
import { VitessError } from '../../rpc/errors.js';
import { HIDDEN, type AggregateColumn, type AggregateFn, type Expr as PlanExpr, type Primitive, type SortKey } from './plan.js';
import { direction, limitOf, routeOf, type RouteBase } from './select.js';
import { renderExpr, renderStatement } from '../../engines/dialect/pg-render.js';
import { compactParams, containsAggregate, exprKey, isAggregateCall, isWindowCall, outputName, valueSource } from './sql.js';
import { walk } from '../../engines/dialect/ast.js';

const refused = (construct: string, why: string) => new VitessError('UNSUPPORTED', `${construct} ${why}`, { construct });

/** Whether a SELECT aggregates: GROUP BY, or an aggregate call in its select list, HAVING or ORDER BY. */
export function isAggregated(ast: SelectFromStatement): boolean {
  return !!ast.groupBy?.length || !!ast.having || containsAggregate(ast.columns) || containsAggregate(ast.orderBy);
}

export function hasWindow(ast: SelectFromStatement): boolean {
  let found = false;
  walk([ast.columns, ast.orderBy], (n) => {
    if (isWindowCall(n)) found = true;
    return !found;
  });
  return found;
}

/**
 * GROUP BY items as expressions: a position or an output alias names a select item
 * (an alias only when no table in scope is known to have a column of that name, as in Postgres).
 */
export function groupExprs(ast: SelectFromStatement, isInputColumn: (name: string) => boolean): Expr[] {
  const columns = ast.columns ?? [];
  return (ast.groupBy ?? []).map((g) => {
    if (g.type === 'integer') {
      const item = columns[g.value - 1];
      if (!item) throw new VitessError('INVALID', `GROUP BY position ${g.value} is not in the select list`);
      return item.expr;
    }
    if (g.type === 'ref' && !g.table && !isInputColumn(g.name)) {
      const item = columns.find((c) => c.alias?.name === g.name);
      if (item) return item.expr;
    }
    return g;
  });
}

export function planAggregate(ast: SelectFromStatement, source: string, base: RouteBase, groups: Expr[]): Primitive {
  if (Array.isArray(ast.distinct)) throw refused('DISTINCT ON', 'is not supported across shards');
  const shardColumns: SelectedColumn[] = [];
  const shardColumn = (expr: Expr, prefix: string): string => {
    const name = `${HIDDEN}${prefix}${shardColumns.length}`;
    shardColumns.push({ expr, alias: { name } });
    return name;
  };
  const groupNames = groups.map((g) => shardColumn(g, 'g'));
  /** Arguments of DISTINCT aggregates, grouped by on the shards after the statement's own groups. */
  const distinctGroups: Expr[] = [];
  const byKey = new Map<string, string>(groups.map((g, i) => [exprKey(g), groupNames[i]!]));

  /** A per-group value computed by the shards (a GROUP BY expression or one depending on it). */
  const carried = (e: Expr): string => {
    const key = exprKey(e);
    let name = byKey.get(key);
    if (!name) byKey.set(key, (name = shardColumn(e, 'c')));
    return name;
  };
  const partial = (call: ExprCall): string => {
    const key = exprKey(call);
    let name = byKey.get(key);
    if (!name) byKey.set(key, (name = shardColumn(call, 'a')));
    return name;
  };
  /**
   * The argument of count, sum or avg(DISTINCT x): the shards also group by x and return its
   * values, so VTGate sees each value once per shard and counts it once per group.
   */
  const distinctValue = (e: Expr): string => {
    const key = exprKey(e);
    let name = byKey.get(key);
    if (!name) {
      byKey.set(key, (name = shardColumn(e, 'd')));
      distinctGroups.push(e);
    }
    return name;
  };
  const aggregate = (call: ExprCall): { fn: AggregateFn; args: string[]; distinct?: boolean } => {
    const fn = call.function.name.toLowerCase();
    const text = renderExpr(call, source);
    if (call.orderBy || call.withinGroup) throw refused(text, 'cannot be combined across shards (ordered aggregate)');
    if (call.distinct === 'distinct' && (fn === 'count' || fn === 'sum' || fn === 'avg')) {
      if (call.filter) throw refused(text, 'cannot be combined across shards: DISTINCT with FILTER (write the condition into the argument with CASE)');
      if (call.args.length !== 1 || (call.args[0]!.type === 'ref' && call.args[0]!.name === '*'))
        throw refused(text, 'cannot be combined across shards: DISTINCT takes one argument');
      return { fn, args: [distinctValue(call.args[0]!)], distinct: true };
    }
    // min, max, bool_and and bool_or are the same over distinct values: the shards' DISTINCT is enough.
    if (fn === 'avg') {
      // AVG = SUM / COUNT over all shards, with FILTER kept on both.
      return { fn: 'avg', args: [partial({ ...call, function: { name: 'sum' } }), partial({ ...call, function: { name: 'count' } })] };
    }
    const merged: Record<string, AggregateFn> = {
      count: 'count',
      sum: 'sum',
      min: 'min',
      max: 'max',
      bool_and: 'bool_and',
      every: 'bool_and',
      bool_or: 'bool_or',
    };
    const m = merged[fn];
    if (!m) throw refused(`${fn}()`, 'cannot be combined across shards; supported across shards: count, sum, avg, min, max, bool_and, bool_or');
    return { fn: m, args: [partial(call)] };
  };
  const notCombined = (e: Expr) =>
    refused(
      renderExpr(e, source),
      'combines an aggregate with other terms, which VTGate cannot compute across shards: select the aggregates themselves and compute the expression in the client',
    );

  const outputs: AggregateColumn[] = [];
  for (const c of ast.columns ?? []) {
    if (c.expr.type === 'ref' && c.expr.name === '*') throw refused('SELECT * with GROUP BY or aggregates', 'is not supported across shards: name the columns');
    if (isAggregateCall(c.expr)) outputs.push({ name: outputName(c), ...aggregate(c.expr) });
    else if (containsAggregate(c.expr)) throw notCombined(c.expr);
    else outputs.push({ name: outputName(c), fn: 'first', args: [carried(c.expr)] });
  }
  const visible = outputs.length;
  const hidden = (col: { fn: AggregateFn; args: string[]; distinct?: boolean }): string => {
    const name = `${HIDDEN}x${outputs.length}`;
    outputs.push({ name, ...col });
    return name;
  };
  /** An aggregate or per-group value used by HAVING or ORDER BY, as a hidden output column. */
  const valueColumn = (e: Expr): string => {
    if (isAggregateCall(e)) return hidden(aggregate(e));
    if (containsAggregate(e)) throw notCombined(e);
    return hidden({ fn: 'first', args: [carried(e)] });
  };

  const having = ast.having ? havingExpr(ast.having, source, valueColumn) : undefined;

  const keys: SortKey[] = (ast.orderBy ?? []).map((o) => {
    const dir = direction(o);
    const by = o.by;
    if (by.type === 'integer') {
      const out = outputs[by.value - 1];
      if (!out || by.value > visible) throw new VitessError('INVALID', `ORDER BY position ${by.value} is not in the select list`);
      return { column: out.name, ...dir };
    }
    if (by.type === 'ref' && !by.table) {
      const i = (ast.columns ?? []).findIndex((c) => c.alias?.name === by.name);
      if (i >= 0) return { column: outputs[i]!.name, ...dir };
    }
    return { column: valueColumn(by), ...dir };
  });

  const shardAst: SelectFromStatement = {
    ...ast,
    columns: shardColumns,
    groupBy: groups.length || distinctGroups.length ? [...groups, ...distinctGroups] : null,
    having: null,
    orderBy: null,
    limit: null,
    distinct: null,
  };
  const { sql, params } = compactParams(renderStatement(shardAst, source));
  const { count, offset } = limitOf(ast, source);
  // Output names may repeat: DISTINCT compares hidden copies of the visible columns.
  const distinctOn =
    ast.distinct === 'distinct' ? outputs.slice(0, visible).map((o) => hidden({ fn: o.fn, args: o.args, ...(o.distinct && { distinct: true }) })) : undefined;
  const drop = outputs.slice(visible).map((o) => o.name);

  let root: Primitive = { op: 'Aggregate', input: routeOf(base, sql, params), groupBy: groupNames, columns: outputs, ...(having && { having }) };
  if (distinctOn) root = { op: 'Distinct', input: root, columns: distinctOn, ignore: drop };
  if (keys.length) root = { op: 'Sort', input: root, keys };
  if (count || offset) root = { op: 'Limit', input: root, ...(count && { count }), ...(offset && { offset }) };
  if (drop.length) root = { op: 'Project', input: root, drop };
  return root;
}

const COMPARE: Record<string, '=' | '<>' | '<' | '<=' | '>' | '>='> = { '=': '=', '!=': '<>', '<>': '<>', '<': '<', '<=': '<=', '>': '>', '>=': '>=' };

/** HAVING as a VTGate expression: comparisons of aggregates, group values, literals and parameters. */
function havingExpr(e: Expr, source: string, valueColumn: (e: Expr) => string): PlanExpr {
  const go = (x: Expr): PlanExpr => {
    if (x.type === 'binary' && (x.op === 'AND' || x.op === 'OR')) return { kind: x.op === 'AND' ? 'and' : 'or', args: [go(x.left), go(x.right)] };
    if (x.type === 'binary' && COMPARE[x.op]) return { kind: 'compare', op: COMPARE[x.op]!, left: go(x.left), right: go(x.right) };
    if (x.type === 'unary' && x.op === 'NOT') return { kind: 'not', arg: go(x.operand) };
    if (x.type === 'unary' && (x.op === 'IS NULL' || x.op === 'IS NOT NULL'))
      return { kind: x.op === 'IS NULL' ? 'is null' : 'is not null', arg: go(x.operand) };
    if (x.type === 'ternary') {
      const between: PlanExpr = {
        kind: 'and',
        args: [
          { kind: 'compare', op: '>=', left: go(x.value), right: go(x.lo) },
          { kind: 'compare', op: '<=', left: go(x.value), right: go(x.hi) },
        ],
      };
      return x.op === 'BETWEEN' ? between : { kind: 'not', arg: between };
    }
    const v = valueSource(x, source);
    if (v) return { kind: 'value', value: v };
    if (containsAggregate(x) && !isAggregateCall(x)) {
      throw refused(
        `HAVING ${renderExpr(x, source)}`,
        'is not supported across shards: compare aggregates, GROUP BY values, literals and parameters with =, <>, <, <=, >, >=, BETWEEN, IS NULL, AND, OR, NOT',
      );
    }
    return { kind: 'column', name: valueColumn(x) };
  };
  return go(e);
}
