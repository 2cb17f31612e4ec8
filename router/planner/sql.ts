/**
 * AST helpers: parameter renumbering, literals as values, structural comparison, and the walks
 * the planner needs. Rendering back to Postgres SQL is engines/dialect/pg-render.ts.
 */
import { toSql, type Expr, type ExprCall, type SelectedColumn } from 'pgsql-ast-parser';
import { normalizeInt, numericText } from '../../rpc/values.js';
import { textOf, walk } from '../../engines/dialect/ast.js';
import type { ValueSource } from './plan.js';

type Node = Record<string, unknown>;

/** A structural key: two expressions with one key are the same expression. */
export function exprKey(e: Expr): string {
  return toSql.expr(e);
}

// ---- parameters -----------------------------------------------------------------------

/**
 * Renumbers every `$n` outside string literals, quoted identifiers and comments. Used on SQL this
 * module rendered, and on rows of a split INSERT.
 */
export function mapParams(sql: string, fn: (n: number) => number): string {
  return replaceParams(sql, (n) => `$${fn(n)}`);
}

/** Replaces every `$n` outside string literals, quoted identifiers and comments with `fn(n)`. */
export function replaceParams(sql: string, fn: (n: number) => string): string {
  let out = '';
  let i = 0;
  while (i < sql.length) {
    const c = sql[i]!;
    let j = i + 1;
    if (c === "'" || c === '"') {
      const escapes = c === "'" && /[eE]/.test(sql[i - 1] ?? '') && !/\w/.test(sql[i - 2] ?? '');
      while (j < sql.length) {
        if (escapes && sql[j] === '\\') j += 2;
        else if (sql[j] === c && sql[j + 1] === c) j += 2;
        else if (sql[j] === c) {
          j++;
          break;
        } else j++;
      }
    } else if (c === '-' && sql[i + 1] === '-') {
      j = sql.indexOf('\n', i);
      if (j < 0) j = sql.length;
    } else if (c === '/' && sql[i + 1] === '*') {
      j = sql.indexOf('*/', i + 2);
      j = j < 0 ? sql.length : j + 2;
    } else if (c === '$') {
      const param = /^\$(\d+)/.exec(sql.slice(i));
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i));
      if (param) {
        out += fn(Number(param[1]));
        i += param[0].length;
        continue;
      }
      if (tag) {
        const end = sql.indexOf(tag[0], i + tag[0].length);
        j = end < 0 ? sql.length : end + tag[0].length;
      }
    }
    out += sql.slice(i, j);
    i = j;
  }
  return out;
}

/** The `$n` numbers used, ascending. */
export function paramsUsed(sql: string): number[] {
  const used = new Set<number>();
  mapParams(sql, (n) => {
    used.add(n);
    return n;
  });
  return [...used].sort((a, b) => a - b);
}

/**
 * Renumbers the parameters of `sql` densely ($1…$k, in order of their old numbers) and says
 * where each value comes from: the statement's own parameters, or `extra` ones VTGate added.
 */
export function compactParams(sql: string, extra: Map<number, ValueSource> = new Map()): { sql: string; params: ValueSource[] } {
  const used = paramsUsed(sql);
  const index = new Map(used.map((n, i) => [n, i + 1]));
  return {
    sql: mapParams(sql, (n) => index.get(n)!),
    params: used.map((n) => extra.get(n) ?? { param: n - 1 }),
  };
}

export function maxParam(sql: string): number {
  return Math.max(0, ...paramsUsed(sql));
}

// ---- literals and values ----------------------------------------------------------------

/** A literal or parameter (possibly cast, or negated) as a ValueSource; undefined for anything else. */
export function valueSource(e: Expr, source: string): ValueSource | undefined {
  switch (e.type) {
    case 'parameter': {
      const n = Number(e.name.slice(1));
      return Number.isInteger(n) && n > 0 ? { param: n - 1 } : undefined;
    }
    case 'cast':
      return valueSource(e.operand, source);
    case 'string':
    case 'boolean':
      return { literal: e.value };
    case 'null':
      return { literal: null };
    case 'integer':
    case 'numeric':
      return { literal: numberLiteral(e, source) };
    case 'unary': {
      if (e.op !== '-' || (e.operand.type !== 'integer' && e.operand.type !== 'numeric')) return undefined;
      const v = numberLiteral(e.operand, source);
      return { literal: typeof v === 'string' ? numericText(`-${v}`) : typeof v === 'bigint' ? normalizeInt(-v) : -v };
    }
    default:
      return undefined;
  }
}

/** An integer literal as a number (bigint beyond 2^53); a decimal one as numeric text, its scale kept. */
function numberLiteral(e: Expr & { value: number }, source: string): number | bigint | string {
  const text = textOf(e, source)?.trim();
  if (e.type === 'integer') return text && /^[-+]?\d+$/.test(text) ? normalizeInt(BigInt(text)) : e.value;
  return numericText(text ?? String(e.value));
}

// ---- expressions ----------------------------------------------------------------------

/** `a AND b AND c` → [a, b, c]. */
export function conjuncts(e: Expr | null | undefined): Expr[] {
  if (!e) return [];
  if (e.type === 'binary' && e.op === 'AND') return [...conjuncts(e.left), ...conjuncts(e.right)];
  return [e];
}

/** Aggregate functions Postgres knows; the mergeable ones are planned, the rest refused by name. */
const AGGREGATES = new Set([
  'count',
  'sum',
  'avg',
  'min',
  'max',
  'bool_and',
  'bool_or',
  'every',
  'string_agg',
  'array_agg',
  'json_agg',
  'jsonb_agg',
  'json_object_agg',
  'jsonb_object_agg',
  'stddev',
  'stddev_pop',
  'stddev_samp',
  'variance',
  'var_pop',
  'var_samp',
  'bit_and',
  'bit_or',
  'bit_xor',
  'mode',
  'percentile_cont',
  'percentile_disc',
  'corr',
  'covar_pop',
  'covar_samp',
  'regr_slope',
  'regr_intercept',
  'xmlagg',
  'group_concat',
]);

export function isAggregateCall(e: unknown): e is ExprCall {
  const n = e as ExprCall;
  return n?.type === 'call' && !n.over && !n.function.schema && AGGREGATES.has(n.function.name.toLowerCase());
}

export function isWindowCall(e: unknown): boolean {
  return (e as ExprCall)?.type === 'call' && !!(e as ExprCall).over;
}

/** Whether an expression contains an aggregate call (not looking into subqueries). */
export function containsAggregate(e: unknown): boolean {
  let found = false;
  walk(e, (n) => {
    if (isSubquery(n)) return false;
    if (isAggregateCall(n)) found = true;
    return !found;
  });
  return found;
}

const SUBQUERY_TYPES = new Set(['select', 'union', 'union all', 'with', 'with recursive', 'values']);
export const isSubquery = (n: Node): boolean => typeof n.type === 'string' && SUBQUERY_TYPES.has(n.type);

/** The name Postgres gives a result column. */
export function outputName(c: SelectedColumn): string {
  if (c.alias) return c.alias.name;
  const name = (e: Expr): string => {
    if (e.type === 'ref') return e.name;
    if (e.type === 'call') return e.function.name;
    if (e.type === 'cast')
      return e.operand.type === 'ref' || e.operand.type === 'call' || e.operand.type === 'cast'
        ? name(e.operand)
        : e.to.kind === 'array'
          ? '?column?'
          : e.to.name;
    return '?column?';
  };
  return name(c.expr);
}
