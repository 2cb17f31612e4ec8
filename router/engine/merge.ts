/**
 * Combining rows from several shards: merge of sorted streams, sort, DISTINCT, LIMIT/OFFSET,
 * and the combination of partial aggregates (exact: int8 as bigint, numeric as decimal).
 */
import { VitessError } from '../../rpc/errors.js';
import type { Row } from '../../rpc/results.js';
import { normalizeInt, type Field, type SqlType, type SqlValue } from '../../rpc/values.js';
import { compareValues, valueKey } from './compare.js';
import { addDec, decText, divDec, toDec, type Dec } from '../../rpc/decimal.js';
import type { Aggregate, AggregateColumn, Expr, SortKey } from '../planner/plan.js';

export type Rows = { rows: Row[]; fields: Field[] };

const typeOf = (fields: Field[], name: string): SqlType | undefined => fields.find((f) => f.name === name)?.type;

export function rowComparator(keys: SortKey[], fields: Field[]): (a: Row, b: Row) => number {
  const types = keys.map((k) => typeOf(fields, k.column));
  return (a, b) => {
    for (const [i, k] of keys.entries()) {
      const x = a[k.column] ?? null;
      const y = b[k.column] ?? null;
      if (x === null && y === null) continue;
      // Postgres: NULL sorts as larger than any value unless NULLS FIRST/LAST says otherwise.
      if (x === null || y === null) return (x === null) === k.nullsFirst ? -1 : 1;
      const c = compareValues(x, y, types[i]);
      if (c !== 0) return k.desc ? -c : c;
    }
    return 0;
  };
}

/** Merges row lists that are each sorted by `keys` (ties keep shard order). */
export function mergeSorted(lists: Row[][], keys: SortKey[], fields: Field[]): Row[] {
  const cmp = rowComparator(keys, fields);
  const at = lists.map(() => 0);
  const out: Row[] = [];
  for (;;) {
    let best = -1;
    for (const [i, list] of lists.entries()) {
      if (at[i]! < list.length && (best < 0 || cmp(list[at[i]!]!, lists[best]![at[best]!]!) < 0)) best = i;
    }
    if (best < 0) return out;
    out.push(lists[best]![at[best]!++]!);
  }
}

export function sortRows(rows: Row[], keys: SortKey[], fields: Field[]): Row[] {
  return [...rows].sort(rowComparator(keys, fields));
}

export function distinctRows(rows: Row[], fields: Field[], ignore: string[], columns?: string[]): Row[] {
  const cols = columns ? columns.map((c) => fields.find((f) => f.name === c)!) : fields.filter((f) => !ignore.includes(f.name));
  const seen = new Set<string>();
  return rows.filter((r) => {
    const key = JSON.stringify(cols.map((f) => valueKey(r[f.name] ?? null, f.type)));
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function nonNegativeInt(v: SqlValue, what: string): number | undefined {
  if (v === null) return undefined;
  const n = typeof v === 'bigint' ? Number(v) : typeof v === 'string' ? Number(v.trim()) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw new VitessError('INVALID', `${what} must be a non-negative integer, not ${String(v)}`);
  return n;
}

export function limitRows(rows: Row[], count: SqlValue | undefined, offset: SqlValue | undefined): Row[] {
  const o = offset === undefined ? 0 : (nonNegativeInt(offset, 'OFFSET') ?? 0);
  const c = count === undefined ? undefined : nonNegativeInt(count, 'LIMIT');
  return rows.slice(o, c === undefined ? undefined : o + c);
}

export { nonNegativeInt };

// ---- aggregates ----------------------------------------------------------------------

const FLOAT_TYPES = new Set<SqlType>(['float4', 'float8']);

/** A running sum, exact for integers (bigint) and numeric (decimal), float for floats. */
class Sum {
  private int = 0n;
  private dec: Dec = { units: 0n, scale: 0 };
  private float = 0;
  private fractional = false;
  seen = false;
  constructor(private readonly type: SqlType | undefined) {}

  add(v: SqlValue): void {
    if (v === null) return;
    this.seen = true;
    if (this.isFloat()) this.float += Number(v);
    else if (typeof v === 'bigint' || (typeof v === 'number' && Number.isInteger(v) && this.type !== 'numeric')) this.int += BigInt(v);
    else {
      const d = toDec(v);
      if (!d) throw new VitessError('INTERNAL', `cannot add ${String(v)} as a number`);
      this.dec = addDec(this.dec, d);
      this.fractional = true;
    }
  }

  isFloat(): boolean {
    return this.type !== undefined && FLOAT_TYPES.has(this.type);
  }

  /** The total as the column type has it: int8 exact, numeric at the largest scale it added (as Postgres sums). */
  value(): SqlValue {
    if (!this.seen) return null;
    if (this.isFloat()) return this.float;
    if (!this.fractional && this.type !== 'numeric') return normalizeInt(this.int);
    return decText(addDec(this.dec, { units: this.int, scale: 0 }));
  }

  decimal(): Dec {
    return addDec(this.dec, { units: this.int, scale: 0 });
  }
}

interface Acc {
  add(row: Row): void;
  value(): SqlValue;
}

/** Postgres's sum over a column of this type is int8 for int2 and int4, numeric for int8 and numeric, else the type. */
const sumType = (t: SqlType): SqlType => (t === 'int2' || t === 'int4' ? 'int8' : t === 'int8' ? 'numeric' : t);

/** count, sum or avg of DISTINCT values: each non-NULL value once per group, equal as Postgres holds them equal (1.5 = 1.50). */
function distinctAccumulator(c: AggregateColumn, fields: Field[]): Acc {
  const a = c.args[0] ?? '';
  const type = typeOf(fields, a);
  const seen = new Set<string>();
  // Exact whatever the input: an int8 sum goes past 2^63 as a numeric would.
  const sum = new Sum(type === 'int8' ? 'numeric' : type);
  return {
    add: (r) => {
      const v = r[a] ?? null;
      if (v === null) return;
      const key = valueKey(v, type);
      if (seen.has(key)) return;
      seen.add(key);
      if (c.fn !== 'count') sum.add(v);
    },
    value: () => {
      if (c.fn === 'count') return seen.size;
      if (c.fn === 'sum' || !sum.seen) return sum.value();
      if (sum.isFloat()) return (sum.value() as number) / seen.size;
      return decText(divDec(sum.decimal(), { units: BigInt(seen.size), scale: 0 }));
    },
  };
}

function accumulator(c: AggregateColumn, fields: Field[]): Acc {
  if (c.distinct) return distinctAccumulator(c, fields);
  const [a = '', b = ''] = c.args;
  const type = typeOf(fields, a);
  switch (c.fn) {
    case 'first': {
      let v: SqlValue | undefined;
      return {
        add: (r) => {
          if (v === undefined) v = r[a] ?? null;
        },
        value: () => v ?? null,
      };
    }
    case 'count': {
      const s = new Sum('int8');
      return { add: (r) => s.add(r[a] ?? 0), value: () => s.value() ?? 0 };
    }
    case 'sum': {
      const s = new Sum(type);
      return { add: (r) => s.add(r[a] ?? null), value: () => s.value() };
    }
    case 'min':
    case 'max': {
      let v: SqlValue = null;
      const sign = c.fn === 'min' ? -1 : 1;
      return {
        add: (r) => {
          const x = r[a] ?? null;
          if (x !== null && (v === null || compareValues(x, v, type) * sign > 0)) v = x;
        },
        value: () => v,
      };
    }
    case 'bool_and':
    case 'bool_or': {
      let v: boolean | null = null;
      const and = c.fn === 'bool_and';
      return {
        add: (r) => {
          const x = r[a];
          if (typeof x === 'boolean') v = v === null ? x : and ? v && x : v || x;
        },
        value: () => v,
      };
    }
    case 'avg': {
      const sum = new Sum(type);
      const count = new Sum('int8');
      return {
        add: (r) => {
          sum.add(r[a] ?? null);
          count.add(r[b] ?? 0);
        },
        value: () => {
          const n = count.decimal();
          if (!sum.seen || n.units === 0n) return null;
          if (sum.isFloat()) return (sum.value() as number) / Number(n.units);
          return decText(divDec(sum.decimal(), n));
        },
      };
    }
  }
}

function outputType(c: AggregateColumn, fields: Field[]): SqlType {
  const t = typeOf(fields, c.args[0] ?? '') ?? 'unknown';
  // A DISTINCT sum's input is the values, not the shards' partial sums.
  if (c.distinct && c.fn === 'sum') return sumType(t);
  switch (c.fn) {
    case 'count':
      return 'int8';
    case 'avg':
      return FLOAT_TYPES.has(t) ? 'float8' : 'numeric';
    case 'bool_and':
    case 'bool_or':
      return 'bool';
    default:
      return t;
  }
}

/** Groups rows by the `groupBy` columns and combines each group's partials. */
export function aggregateRows(input: Rows, agg: Aggregate, value: (v: Expr & { kind: 'value' }) => SqlValue): Rows {
  const groups = new Map<string, Acc[]>();
  const keyTypes = agg.groupBy.map((g) => typeOf(input.fields, g));
  for (const r of input.rows) {
    const key = JSON.stringify(agg.groupBy.map((g, i) => valueKey(r[g] ?? null, keyTypes[i])));
    let accs = groups.get(key);
    if (!accs) groups.set(key, (accs = agg.columns.map((c) => accumulator(c, input.fields))));
    for (const acc of accs) acc.add(r);
  }
  // Without GROUP BY an aggregate returns one row even over no rows.
  if (!agg.groupBy.length && !groups.size)
    groups.set(
      '',
      agg.columns.map((c) => accumulator(c, input.fields)),
    );
  const fields = agg.columns.map((c) => ({ name: c.name, type: outputType(c, input.fields) }));
  let rows = [...groups.values()].map((accs) => Object.fromEntries(agg.columns.map((c, i) => [c.name, accs[i]!.value()])) as Row);
  if (agg.having) rows = rows.filter((r) => evaluate(agg.having!, r, fields, value) === true);
  return { rows, fields };
}

type Typed = { v: SqlValue; type?: SqlType };

/** SQL three-valued logic over a combined row: true, false or null (unknown). */
export function evaluate(e: Expr, row: Row, fields: Field[], value: (v: Expr & { kind: 'value' }) => SqlValue): SqlValue {
  const typed = (x: Expr): Typed => (x.kind === 'column' ? { v: row[x.name] ?? null, type: typeOf(fields, x.name) } : { v: evaluate(x, row, fields, value) });
  switch (e.kind) {
    case 'column':
      return row[e.name] ?? null;
    case 'value':
      return value(e);
    case 'not': {
      const v = evaluate(e.arg, row, fields, value);
      return v === null ? null : !v;
    }
    case 'is null':
      return evaluate(e.arg, row, fields, value) === null;
    case 'is not null':
      return evaluate(e.arg, row, fields, value) !== null;
    case 'and':
    case 'or': {
      const vs = e.args.map((a) => evaluate(a, row, fields, value));
      const decisive = e.kind !== 'and';
      if (vs.includes(decisive)) return decisive;
      return vs.includes(null) ? null : !decisive;
    }
    case 'compare': {
      const l = typed(e.left);
      const r = typed(e.right);
      if (l.v === null || r.v === null) return null;
      const c = compareValues(l.v, r.v, l.type ?? r.type);
      switch (e.op) {
        case '=':
          return c === 0;
        case '<>':
          return c !== 0;
        case '<':
          return c < 0;
        case '<=':
          return c <= 0;
        case '>':
          return c > 0;
        case '>=':
          return c >= 0;
      }
    }
  }
}
