/**
 * The differential test's model and generators: random schemas, rows, writes and queries over
 * tables t1, t2 (co-located with t1) and r (reference), shared by the in-process test
 * (tests/unit) and the one through the real VTGate (tests/e2e).
 */
import fc from 'fast-check';
import type { ResultSet } from '../../rpc/results.js';
import type { SqlValue } from '../../rpc/values.js';

// ---- the model ----------------------------------------------------------------------------

export type ColType = 'int' | 'text' | 'numeric' | 'bool';
export interface Col {
  name: string;
  type: ColType;
}
export interface Table {
  name: string;
  alias: string;
  cols: Col[];
  reference: boolean;
  vindex?: string;
  lookup?: string;
}
/** The vindex type of t1 (t2 is co-located with it, so uses the same one). */
export type VindexType = 'hash' | 'consistent_hash' | 'range';
export interface Schema {
  tables: Table[];
  vindexType?: VindexType;
}
export interface Stmt {
  sql: string;
  params: SqlValue[];
}
export interface Query extends Stmt {
  ordered: boolean;
}

const DOMAIN: Record<ColType, SqlValue[]> = {
  int: [-3, -1, 0, 1, 2, 3, 7, null],
  text: ['a', 'B', 'b', '', 'é', 'ab', null],
  numeric: ['0', '1.5', '-2.25', '10', '0.75', null],
  bool: [true, false, null],
};
const SQL_TYPE: Record<ColType, string> = { int: 'INT', text: 'TEXT', numeric: 'NUMERIC(12,2)', bool: 'BOOLEAN' };

export const ddl = (t: Table) =>
  `CREATE TABLE ${t.name} (${t.cols.map((c) => `${c.name} ${SQL_TYPE[c.type]}${c.name === 'id' ? ' PRIMARY KEY' : ''}`).join(', ')})`;

export function literal(v: SqlValue): string {
  if (v === null) return 'NULL';
  if (typeof v === 'string') return `'${v.replace(/'/g, "''")}'`;
  return String(v);
}

/** Rows as comparable text: bigints and numbers of one value print the same. */
export function canon(r: ResultSet, ordered: boolean): string[] {
  const rows = r.rows.map((row) =>
    JSON.stringify(
      r.fields.map((f) => {
        const v = row[f.name];
        if (typeof v === 'bigint') return `${v}`;
        return v instanceof Uint8Array ? [...v] : v;
      }),
    ),
  );
  return ordered ? rows : rows.sort();
}

// ---- random schemas, rows and queries ----------------------------------------------------

export type Gen = fc.GeneratorValue;
const pick = <T>(g: Gen, xs: readonly T[]): T => g(fc.constantFrom, ...xs);
const int = (g: Gen, min: number, max: number): number => g(fc.integer, { min, max });
export const chance = (g: Gen, p: number): boolean => int(g, 0, 99) < p * 100;
const some = <T>(g: Gen, xs: T[], min: number, max: number): T[] =>
  g(fc.subarray, xs, { minLength: Math.min(min, xs.length), maxLength: Math.min(max, xs.length) });

export function genSchema(g: Gen, opts: { vindexTypes?: VindexType[]; lookups?: boolean } = {}): Schema {
  const extra = (prefix: string): Col[] =>
    Array.from({ length: int(g, 1, 3) }, (_, i) => ({ name: `${prefix}${i}`, type: pick(g, ['int', 'text', 'numeric', 'bool'] as const) }));
  const t1: Table = { name: 't1', alias: 'a', cols: [{ name: 'id', type: 'int' }, ...extra('x')], reference: false };
  const lookup = t1.cols.find((c) => c.name !== 'id' && c.type !== 'bool');
  if (lookup && opts.lookups !== false && chance(g, 0.5)) t1.lookup = lookup.name;
  const tables = [t1];
  if (chance(g, 0.7))
    tables.push({
      name: 't2',
      alias: 'b',
      cols: [{ name: 'id', type: 'int' }, { name: 't1_id', type: 'int' }, ...extra('y')],
      reference: false,
      vindex: 't1_id',
    });
  if (chance(g, 0.6)) tables.push({ name: 'r', alias: 'c', cols: [{ name: 'id', type: 'int' }, ...extra('z')], reference: true });
  return { tables, vindexType: pick(g, opts.vindexTypes ?? (['hash', 'hash', 'consistent_hash', 'range'] as const)) };
}

export function genInserts(g: Gen, schema: Schema): Stmt[] {
  const out: Stmt[] = [];
  const t1Rows = int(g, 0, 30);
  for (const t of schema.tables) {
    const n = t.name === 't1' ? t1Rows : int(g, 0, 30);
    if (!n) continue;
    const params: SqlValue[] = [];
    const tuples = Array.from(
      { length: n },
      (_, i) =>
        `(${t.cols
          .map((c) => {
            const v = c.name === 'id' ? i + 1 : c.name === 't1_id' ? int(g, 1, Math.max(t1Rows, 1) + 1) : pick(g, DOMAIN[c.type]);
            if (chance(g, 0.5)) return literal(v);
            params.push(v);
            return `$${params.length}`;
          })
          .join(', ')})`,
    );
    out.push({ sql: `INSERT INTO ${t.name} (${t.cols.map((c) => c.name).join(', ')}) VALUES ${tuples.join(', ')}`, params });
  }
  return out;
}

interface Ref {
  sql: string;
  col: Col;
}

/**
 * An uncorrelated subquery over t1 (sharded) as a WHERE predicate on `ref`: `ref [NOT] IN
 * (SELECT s.c …)`, `ref op (SELECT min|max(s.c) …)` on a t1 column of ref's type, or `[NOT] EXISTS`.
 */
function subqueryPredicate(g: Gen, t1: Table, ref: Ref, value: (v: SqlValue) => string): string {
  const filterCol = pick(g, t1.cols);
  const where = chance(g, 0.3)
    ? ''
    : filterCol.type === 'bool'
      ? ` WHERE s.${filterCol.name} IS NOT NULL`
      : ` WHERE s.${filterCol.name} ${pick(g, ['=', '<', '>=', '<>'])} ${value(
          pick(
            g,
            DOMAIN[filterCol.type].filter((v) => v !== null),
          ),
        )}`;
  const same = t1.cols.filter((c) => c.type === ref.col.type);
  const kind = int(g, 0, 2);
  if (kind === 0 || !same.length) return `${chance(g, 0.3) ? 'NOT ' : ''}EXISTS (SELECT 1 FROM t1 AS s${where})`;
  const c = pick(g, same);
  if (kind === 1 || ref.col.type === 'bool') return `${ref.sql} ${chance(g, 0.3) ? 'NOT IN' : 'IN'} (SELECT s.${c.name} FROM t1 AS s${where})`;
  return `${ref.sql} ${pick(g, ['=', '<', '>='])} (SELECT ${pick(g, ['min', 'max'])}(s.${c.name}) FROM t1 AS s${where})`;
}

/**
 * A multi-row INSERT … RETURNING of new rows into t1 (ids from `firstId`), compared in order:
 * rows come back in VALUES order. With ON CONFLICT DO NOTHING some rows are old ids and return nothing.
 */
export function genInsertReturning(g: Gen, schema: Schema, firstId: number): Query {
  const t1 = schema.tables.find((t) => t.name === 't1')!;
  const params: SqlValue[] = [];
  const value = (v: SqlValue): string => {
    if (v === null || chance(g, 0.5)) return literal(v);
    params.push(v);
    return `$${params.length}`;
  };
  const conflict = chance(g, 0.4);
  const candidates = [...Array.from({ length: 8 }, (_, i) => firstId + i), ...(conflict ? [1, 2, 3, 4, 5] : [])];
  const ids = g(fc.shuffledSubarray, candidates, { minLength: 1, maxLength: candidates.length });
  const tuples = ids.map((id) => `(${t1.cols.map((c) => value(c.name === 'id' ? id : pick(g, DOMAIN[c.type]))).join(', ')})`);
  const returning = pick(g, ['*', 'id', `${t1.cols.at(-1)!.name}, id`, ...(conflict ? [] : [t1.cols.at(-1)!.name])]);
  return {
    sql: `INSERT INTO t1 (${t1.cols.map((c) => c.name).join(', ')}) VALUES ${tuples.join(', ')}${conflict ? ' ON CONFLICT (id) DO NOTHING' : ''} RETURNING ${returning}`,
    params,
    ordered: true,
  };
}

/** An UPDATE of a non-key column, or a DELETE, of t1 or t2 under a random filter. */
export function genWrite(g: Gen, schema: Schema): Stmt {
  const t = pick(
    g,
    schema.tables.filter((x) => !x.reference),
  );
  const params: SqlValue[] = [];
  const value = (v: SqlValue): string => {
    if (v === null || chance(g, 0.5)) return literal(v);
    params.push(v);
    return `$${params.length}`;
  };
  const key = t.vindex ?? 'id';
  const filterCol = pick(g, t.cols);
  const t1 = schema.tables.find((x) => x.name === 't1')!;
  const filter = chance(g, 0.2)
    ? subqueryPredicate(g, t1, { sql: filterCol.name, col: filterCol }, value)
    : chance(g, 0.3)
      ? `${key} = ${value(int(g, 1, 12))}`
      : filterCol.type === 'bool'
        ? `${filterCol.name} IS NULL`
        : `${filterCol.name} ${pick(g, ['=', '<', '>='])} ${value(
            pick(
              g,
              DOMAIN[filterCol.type].filter((v) => v !== null),
            ),
          )}`;
  const returning = chance(g, 0.3) ? ' RETURNING id' : '';
  const settable = t.cols.filter((c) => c.name !== 'id' && c.name !== t.vindex);
  if (settable.length && chance(g, 0.6)) {
    const c = pick(g, settable);
    return { sql: `UPDATE ${t.name} SET ${c.name} = ${value(pick(g, DOMAIN[c.type]))} WHERE ${filter}${returning}`, params };
  }
  return { sql: `DELETE FROM ${t.name} WHERE ${filter}${returning}`, params };
}

export function genQuery(g: Gen, schema: Schema): Query {
  const byName = (n: string) => schema.tables.find((t) => t.name === n);
  const [t1, t2, r] = [byName('t1')!, byName('t2'), byName('r')];
  const froms: { sql: string; tables: Table[] }[] = [{ sql: 't1 AS a', tables: [t1] }];
  if (t2) {
    froms.push({ sql: 't2 AS b', tables: [t2] });
    froms.push({ sql: 't1 AS a JOIN t2 AS b ON b.t1_id = a.id', tables: [t1, t2] });
    froms.push({ sql: 't1 AS a LEFT JOIN t2 AS b ON b.t1_id = a.id', tables: [t1, t2] });
  }
  if (r) {
    const intCol = t1.cols.find((c) => c.type === 'int' && c.name !== 'id')?.name ?? 'id';
    froms.push({ sql: `t1 AS a JOIN r AS c ON c.id = a.${intCol}`, tables: [t1, r] });
    froms.push({ sql: `r AS c JOIN t1 AS a ON a.${intCol} = c.id`, tables: [t1, r] });
    froms.push({ sql: `t1 AS a LEFT JOIN r AS c ON c.id = a.${intCol}`, tables: [t1, r] });
  }
  const from = pick(g, froms);
  const refs: Ref[] = from.tables.flatMap((t) => t.cols.map((col) => ({ sql: `${t.alias}.${col.name}`, col })));
  const params: SqlValue[] = [];
  const value = (v: SqlValue): string => {
    if (v === null || chance(g, 0.5)) return literal(v);
    params.push(v);
    return `$${params.length}`;
  };
  const someValue = (c: Col) =>
    pick(
      g,
      DOMAIN[c.type].filter((v) => v !== null),
    );

  // WHERE: routing predicates on the vindex columns, and filters.
  const preds: string[] = [];
  for (let i = int(g, 0, 2); i > 0; i--) {
    const kind = int(g, 0, 6);
    const base = from.tables[0]!;
    const vcol = `${base.alias}.${base.vindex ?? 'id'}`;
    if (kind === 0) preds.push(`${vcol} = ${value(int(g, 1, 12))}`);
    else if (kind === 6) preds.push(subqueryPredicate(g, t1, chance(g, 0.4) ? { sql: vcol, col: { name: 'id', type: 'int' } } : pick(g, refs), value));
    else if (kind === 1) preds.push(`${vcol} IN (${Array.from({ length: int(g, 2, 4) }, () => value(int(g, 1, 12))).join(', ')})`);
    else {
      const ref = pick(g, refs);
      const op = ref.col.type === 'bool' ? pick(g, ['=', 'IS NULL', 'IS NOT NULL']) : pick(g, ['=', '<', '>=', '<>', 'IS NULL', 'IS NOT NULL']);
      preds.push(op.startsWith('IS') ? `${ref.sql} ${op}` : `${ref.sql} ${op} ${value(someValue(ref.col))}`);
    }
  }
  const where = preds.length ? ` WHERE ${preds.length === 2 && chance(g, 0.3) ? `(${preds[0]} OR ${preds[1]})` : preds.join(' AND ')}` : '';
  const keys = from.tables.map((t) => `${t.alias}.id`);

  const limit = () => {
    if (!chance(g, 0.5)) return '';
    const l = chance(g, 0.8) ? ` LIMIT ${value(int(g, 0, 6))}` : '';
    const o = chance(g, 0.5) ? ` OFFSET ${value(int(g, 0, 4))}` : '';
    return l + o;
  };
  const dir = () => pick(g, ['', ' ASC', ' DESC', ' DESC NULLS LAST', ' ASC NULLS FIRST']);

  if (chance(g, 0.5)) {
    // Plain rows.
    const distinct = chance(g, 0.3);
    const cols = some(g, refs, 1, 3);
    const star = from.tables.length === 1 && !distinct && chance(g, 0.2);
    const select = star ? '*' : cols.map((c) => c.sql).join(', ');
    let order = '';
    let tail = '';
    if (chance(g, 0.6)) {
      // A total order: DISTINCT orders by every output column, else by some columns then the keys.
      const by = distinct ? cols.map((c) => c.sql) : [...some(g, refs, 0, 2).map((c) => c.sql), ...keys];
      order = ` ORDER BY ${by.map((b) => b + dir()).join(', ')}`;
      tail = limit();
    }
    return { sql: `SELECT ${distinct ? 'DISTINCT ' : ''}${select} FROM ${from.sql}${where}${order}${tail}`, params, ordered: !!order };
  }

  // Aggregates.
  const groups = some(g, refs, 0, 2);
  const numeric = refs.filter((c) => c.col.type === 'int' || c.col.type === 'numeric');
  const ordered = refs.filter((c) => c.col.type !== 'bool');
  const bools = refs.filter((c) => c.col.type === 'bool');
  const aggs = Array.from({ length: int(g, 1, 3) }, () => {
    const kind = int(g, 0, 8);
    if (kind === 7) return `count(DISTINCT ${pick(g, refs).sql})`;
    if (kind === 0 || (kind >= 3 && !numeric.length)) return 'count(*)';
    if (kind === 8) return `${pick(g, ['sum', 'avg'])}(DISTINCT ${pick(g, numeric).sql})`;
    if (kind === 1) return `count(${pick(g, refs).sql})`;
    if (kind === 2) return `${pick(g, ['min', 'max'])}(${pick(g, ordered).sql})`;
    if (kind === 6 && bools.length) return `${pick(g, ['bool_and', 'bool_or'])}(${pick(g, bools).sql})`;
    return `${pick(g, ['sum', 'avg'])}(${pick(g, numeric).sql})`;
  });
  const select = [...groups.map((c, i) => `${c.sql} AS g${i}`), ...aggs.map((a, i) => `${a} AS a${i}`)].join(', ');
  const groupBy = groups.length ? ` GROUP BY ${groups.map((c, i) => (chance(g, 0.3) ? `${i + 1}` : c.sql)).join(', ')}` : '';
  // (pgsql-ast-parser does not parse HAVING without GROUP BY.)
  const havings = [() => `count(*) > ${value(int(g, 0, 3))}`, () => `${aggs[0]} IS NOT NULL`, () => `count(*) >= 1 AND ${aggs[0]} IS NULL`];
  const having = groups.length && chance(g, 0.3) ? ` HAVING ${pick(g, havings)()}` : '';
  let order = '';
  let tail = '';
  if (groups.length && chance(g, 0.6)) {
    const first = chance(g, 0.4) ? [`a0${dir()}`] : [];
    order = ` ORDER BY ${[...first, ...groups.map((_, i) => (chance(g, 0.5) ? `g${i}` : `${i + 1}`) + dir())].join(', ')}`;
    tail = limit();
  } else if (!groups.length) {
    tail = limit();
  }
  return { sql: `SELECT ${select} FROM ${from.sql}${where}${groupBy}${having}${order}${tail}`, params, ordered: !!order || !groups.length };
}

/** What a failure report shows of a generated case. */
export const describeCase = (schema: Schema, inserts: Stmt[]): string =>
  `schema:\n${schema.tables.map(ddl).join(';\n')}\n(vindexes: ${schema.tables.map((t) => `${t.name}=${t.reference ? 'reference' : `${schema.vindexType}(${t.vindex ?? 'id'})${t.lookup ? ` lookup(${t.lookup})` : ''}`}`).join(', ')})\nrows:\n${inserts.map((s) => `${s.sql} ${JSON.stringify(s.params)}`).join('\n')}`;
