import type { SqlType } from '../../rpc/values.js';
import { TIMESTAMP_FORMAT } from './types.js';

/** A rendered expression and its inferred type. */
export interface Typed {
  sql: string;
  type: SqlType;
  /** A column declared NOT NULL (an ORDER BY on it needs no NULLS clause). */
  notNull?: boolean;
  /** A numeric's scale, where Postgres's is known from the types (a `numeric(p, s)` column, `1.50`, `a + b`). */
  scale?: number;
  /**
   * A numeric quotient (`a / b`, `avg(x)` as `sum(x) / count(x)`): SQLite divides in floating
   * point, so a top-level output reads both operands and divides them as Postgres would.
   */
  ratio?: [Typed, Typed];
}

/** The scale Postgres gives a value of this expression: 0 for integers, unknown unless declared otherwise. */
export function scaleOf(t: Typed): number | undefined {
  return INTS.includes(t.type) ? 0 : t.type === 'numeric' ? t.scale : undefined;
}

const INTS: SqlType[] = ['int2', 'int4', 'int8'];
const FLOATS: SqlType[] = ['float4', 'float8'];

/** Result type of SUM, as Postgres computes it (sum of int8 is numeric). */
function sumType(arg: SqlType): SqlType {
  if (arg === 'int2' || arg === 'int4') return 'int8';
  if (FLOATS.includes(arg)) return 'float8';
  return 'numeric';
}

/** Arithmetic result type: float beats numeric beats the widest integer. */
export function arithmeticType(a: SqlType, b: SqlType): SqlType {
  if (FLOATS.includes(a) || FLOATS.includes(b)) return 'float8';
  if (a === 'numeric' || b === 'numeric') return 'numeric';
  if (a === 'int8' || b === 'int8') return 'int8';
  if (INTS.includes(a) || INTS.includes(b)) return 'int4';
  return 'unknown';
}

export const UUID_V4_SQL =
  `lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-' || ` +
  `substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))`;

export const NOW_SQL = `strftime(${TIMESTAMP_FORMAT}, 'now')`;

interface FunctionRule {
  /** Render from already-rendered arguments. */
  render: (args: Typed[]) => string;
  type: (args: Typed[]) => SqlType;
  aggregate?: boolean;
  window?: boolean;
  arity?: [number, number];
  /** The result's scale, for a numeric result (see `Typed.scale`). */
  scale?: (args: Typed[]) => number | undefined;
}

const first = (args: Typed[]): SqlType => args.find((a) => a.type !== 'unknown')?.type ?? 'unknown';
/**
 * round() half away from zero, as Postgres rounds a decimal. The double nearest a decimal half
 * (12.35) can sit just below it, where SQLite's round() would go down: nudged up by two units
 * in the last place first.
 */
export const roundSql = (x: string, digits: string): string => `round((${x}) * (1 + 4.5e-16), ${digits})`;

const firstScale = (args: Typed[]): number | undefined => (args[0] ? scaleOf(args[0]) : undefined);
/** round(x, n) has scale n; round(x), 0. */
const roundScale = (args: Typed[]): number | undefined => (args[1] === undefined ? 0 : /^\d+$/.test(args[1].sql) ? Number(args[1].sql) : undefined);
const same = (name: string) => (args: Typed[]) => `${name}(${args.map((a) => a.sql).join(', ')})`;

/** Postgres functions with a faithful SQLite rendering. Anything else is refused by name. */
export const FUNCTIONS: Record<string, FunctionRule> = {
  count: { render: same('count'), type: () => 'int8', aggregate: true, arity: [0, 1] },
  sum: { render: same('sum'), type: (a) => sumType(a[0]!.type), aggregate: true, arity: [1, 1], scale: firstScale },
  avg: { render: same('avg'), type: (a) => (FLOATS.includes(a[0]!.type) ? 'float8' : 'numeric'), aggregate: true, arity: [1, 1] },
  min: { render: same('min'), type: first, aggregate: true, arity: [1, 1], scale: firstScale },
  max: { render: same('max'), type: first, aggregate: true, arity: [1, 1], scale: firstScale },
  string_agg: { render: same('group_concat'), type: () => 'text', aggregate: true, arity: [2, 2] },
  bool_and: { render: (a) => `min(${a[0]!.sql})`, type: () => 'bool', aggregate: true, arity: [1, 1] },
  bool_or: { render: (a) => `max(${a[0]!.sql})`, type: () => 'bool', aggregate: true, arity: [1, 1] },
  row_number: { render: same('row_number'), type: () => 'int8', window: true, arity: [0, 0] },
  rank: { render: same('rank'), type: () => 'int8', window: true, arity: [0, 0] },
  dense_rank: { render: same('dense_rank'), type: () => 'int8', window: true, arity: [0, 0] },
  lag: { render: same('lag'), type: first, window: true, arity: [1, 3] },
  lead: { render: same('lead'), type: first, window: true, arity: [1, 3] },
  first_value: { render: same('first_value'), type: first, window: true, arity: [1, 1], scale: firstScale },
  last_value: { render: same('last_value'), type: first, window: true, arity: [1, 1], scale: firstScale },
  coalesce: { render: same('coalesce'), type: first, arity: [1, 100] },
  nullif: { render: same('nullif'), type: first, arity: [2, 2] },
  lower: { render: same('lower'), type: () => 'text', arity: [1, 1] },
  upper: { render: same('upper'), type: () => 'text', arity: [1, 1] },
  length: { render: same('length'), type: () => 'int4', arity: [1, 1] },
  char_length: { render: same('length'), type: () => 'int4', arity: [1, 1] },
  abs: { render: same('abs'), type: first, arity: [1, 1], scale: firstScale },
  round: {
    render: (a) => roundSql(a[0]!.sql, a[1]?.sql ?? '0'),
    type: (a) => (a[0]!.type === 'float8' ? 'float8' : 'numeric'),
    arity: [1, 2],
    scale: roundScale,
  },
  replace: { render: same('replace'), type: () => 'text', arity: [3, 3] },
  substr: { render: same('substr'), type: () => 'text', arity: [2, 3] },
  substring: { render: same('substr'), type: () => 'text', arity: [2, 3] },
  trim: { render: same('trim'), type: () => 'text', arity: [1, 1] },
  ltrim: { render: same('ltrim'), type: () => 'text', arity: [1, 1] },
  rtrim: { render: same('rtrim'), type: () => 'text', arity: [1, 1] },
  // Postgres concat() skips NULLs; SQLite's || would propagate them.
  concat: { render: (a) => `(${a.map((x) => `coalesce(${x.sql}, '')`).join(' || ')})`, type: () => 'text', arity: [1, 100] },
  now: { render: () => NOW_SQL, type: () => 'timestamptz', arity: [0, 0] },
  gen_random_uuid: { render: () => UUID_V4_SQL, type: () => 'uuid', arity: [0, 0] },
  json_array_length: { render: same('json_array_length'), type: () => 'int4', arity: [1, 1] },
  jsonb_array_length: { render: same('json_array_length'), type: () => 'int4', arity: [1, 1] },
};
