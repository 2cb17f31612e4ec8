import type {
  DeleteStatement,
  Expr,
  ExprCall,
  ExprCast,
  From,
  InsertStatement,
  OrderByStatement,
  PGNode,
  QName,
  SelectedColumn,
  SelectStatement,
  Statement,
  UpdateStatement,
} from 'pgsql-ast-parser';
import { VitessError } from '../../rpc/errors.js';
import { isNumericText, numericAtScale, numericText, type SqlType } from '../../rpc/values.js';
import { arithmeticType, FUNCTIONS, NOW_SQL, roundSql, scaleOf, type Typed } from './functions.js';
import { quoteIdent } from './sql-text.js';
import type { Parsed } from './parse.js';
import { pgTypeOf, TIMESTAMP_FORMAT } from './types.js';

export interface CatalogColumn {
  name: string;
  type: SqlType;
  /** Declared NOT NULL (primary-key columns are). */
  notNull?: boolean;
  /** An int8 output read as text from a table column: that column, to sort the output by. */
  source?: string;
  /** A table column's DEFAULT as SQLite holds it (SQLite SQL): what `DEFAULT` in VALUES writes. */
  default?: string;
  /** A numeric's scale where it is known (see `Typed.scale`). */
  scale?: number;
  /** An output that reads `numerator:denominator` (see `Typed.ratio`), and the operands' scales. */
  ratio?: [number | undefined, number | undefined];
  /** What an ORDER BY on this output sorts by, when not the output itself (a ratio's quotient). */
  sortAs?: string;
}

/** What the renderer knows of the schema: a table's columns in order, or undefined. */
export interface Catalog {
  columns(table: string): CatalogColumn[] | undefined;
}

export interface RenderOptions {
  /** DO SQLite returns integers as JS numbers: int8 results are read as text to stay exact. */
  int8AsText?: boolean;
  /** Bound parameters allowed in one statement (DO SQLite and D1: 100). */
  maxParams?: number;
}

interface Source {
  alias: string;
  columns: CatalogColumn[] | undefined;
}

interface Scope {
  sources: Source[];
  ctes: Map<string, CatalogColumn[]>;
  parent?: Scope;
}

export interface RenderedQuery {
  sql: string;
  columns: CatalogColumn[];
}

export const quoteString = (s: string): string => `'${s.replace(/'/g, "''")}'`;

export function unsupported(construct: string, why = 'is not supported on SQLite engines'): VitessError {
  return new VitessError('UNSUPPORTED', `${construct} ${why}`, { construct });
}

const COMPARISONS = new Set(['=', '!=', '<', '>', '<=', '>=']);
const ARITHMETIC = new Set(['+', '-', '*', '/', '%']);

/**
 * Renders a Postgres AST as SQLite SQL, inferring each result column's type so values can be
 * read back as the same JS values Postgres would give. Every construct is whitelisted: what is
 * not handled here is refused by name rather than passed through.
 */
export class SqliteRenderer {
  /** Highest `$n` referenced: the statement binds `$1…$n` as SQLite's `?1…?n`. */
  paramCount = 0;
  /** Parameters written to a numeric(p, s) column, by index: their scale (see `storeAs`). */
  readonly paramScales: (number | undefined)[] = [];
  /** Inside a UNION: an ORDER BY there sorts every branch's rows. */
  private compound = 0;

  constructor(
    private readonly parsed: Parsed,
    readonly catalog: Catalog,
    private readonly opts: RenderOptions = {},
  ) {}

  // ---- parameters and literals ----------------------------------------------------------

  param(name: string): string {
    const n = Number(name.slice(1));
    if (!Number.isInteger(n) || n < 1) throw unsupported(`parameter ${name}`, 'is not a $n parameter');
    const max = this.opts.maxParams;
    if (max !== undefined && n > max) {
      throw new VitessError('LIMIT_EXCEEDED', `statement binds more than ${max} parameters (the per-statement limit); split it into several statements`, {
        limit: 'parameters per statement',
      });
    }
    this.paramCount = Math.max(this.paramCount, n);
    // Numbered, so an expression rendered twice (or a reused $n) binds the same value.
    return `?${n}`;
  }

  /** The literal exactly as written, so long numbers keep every digit. */
  private sourceText(node: PGNode, fallback: string): string {
    const loc = node._location;
    return loc ? this.parsed.source.slice(loc.start, loc.end) : fallback;
  }

  // ---- expressions ------------------------------------------------------------------------

  expr(e: Expr, scope: Scope): Typed {
    switch (e.type) {
      case 'ref': {
        if (e.name === '*') throw unsupported('* outside a select list');
        return this.ref(e.name, e.table, scope);
      }
      case 'parameter':
        return { sql: this.param(e.name), type: 'unknown' };
      case 'integer': {
        const text = this.sourceText(e, String(e.value));
        return { sql: text, type: Math.abs(Number(text)) > 2147483647 ? 'int8' : 'int4' };
      }
      case 'numeric': {
        const sql = this.sourceText(e, String(e.value));
        return { sql, type: 'numeric', scale: numericText(sql).split('.')[1]?.length ?? 0 };
      }
      case 'string':
        return { sql: quoteString(e.value), type: 'text' };
      case 'boolean':
        return { sql: e.value ? '1' : '0', type: 'bool' };
      case 'null':
        return { sql: 'NULL', type: 'unknown' };
      case 'list':
        return { sql: `(${e.expressions.map((x) => this.expr(x, scope).sql).join(', ')})`, type: 'unknown' };
      case 'call':
        return this.call(e, scope);
      case 'cast':
        return this.cast(e, scope);
      case 'binary':
        return this.binary(e.op, e.left, e.right, scope);
      case 'unary': {
        const o = this.expr(e.operand, scope);
        switch (e.op) {
          case 'NOT':
            return { sql: `(NOT ${o.sql})`, type: 'bool' };
          case '-':
            return { ...o, sql: `(-${o.sql})`, ...(o.ratio && { ratio: [{ ...o.ratio[0], sql: `(-${o.ratio[0].sql})` }, o.ratio[1]] }) };
          case '+':
            return o;
          default:
            return { sql: `(${o.sql} ${e.op})`, type: 'bool' };
        }
      }
      case 'ternary': {
        const v = this.expr(e.value, scope).sql;
        return { sql: `(${v} ${e.op} ${this.expr(e.lo, scope).sql} AND ${this.expr(e.hi, scope).sql})`, type: 'bool' };
      }
      case 'case': {
        const value = e.value ? ` ${this.expr(e.value, scope).sql}` : '';
        const whens = e.whens.map((w) => ({ when: this.expr(w.when, scope), result: this.expr(w.value, scope) }));
        const otherwise = e.else ? this.expr(e.else, scope) : undefined;
        const type = [...whens.map((w) => w.result.type), otherwise?.type ?? 'unknown'].find((t) => t !== 'unknown') ?? 'unknown';
        const body = whens.map((w) => ` WHEN ${w.when.sql} THEN ${w.result.sql}`).join('');
        return { sql: `(CASE${value}${body}${otherwise ? ` ELSE ${otherwise.sql}` : ''} END)`, type };
      }
      case 'member': {
        const o = this.expr(e.operand, scope);
        const path = quoteString(typeof e.member === 'number' ? `$[${e.member}]` : `$."${e.member.replace(/"/g, '\\"')}"`);
        if (e.op === '->') return { sql: `(${o.sql} -> ${path})`, type: o.type === 'json' ? 'json' : 'jsonb' };
        // Postgres ->> yields text ('true', '3'); SQLite's yields SQL values (1, 3).
        const text = `(CASE json_type(${o.sql}, ${path}) WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' ` + `ELSE CAST(${o.sql} ->> ${path} AS TEXT) END)`;
        return { sql: text, type: 'text' };
      }
      case 'keyword': {
        if (e.keyword === 'current_timestamp' || e.keyword === 'localtimestamp') return { sql: NOW_SQL, type: 'timestamptz' };
        if (e.keyword === 'current_date') return { sql: `date('now')`, type: 'date' };
        throw unsupported(e.keyword.toUpperCase());
      }
      case 'substring': {
        const args = [e.value, e.from ?? { type: 'integer', value: 1 }, ...(e.for ? [e.for] : [])];
        return { sql: `substr(${args.map((a) => this.expr(a as Expr, scope).sql).join(', ')})`, type: 'text' };
      }
      case 'select':
      case 'union':
      case 'union all':
      case 'with':
      case 'values': {
        const q = this.query(e, scope);
        return { sql: `(${q.sql})`, type: q.columns[0]?.type ?? 'unknown' };
      }
      case 'default':
        throw unsupported('DEFAULT in VALUES', 'is not supported on SQLite engines; omit the column instead');
      default:
        throw unsupported(describe(e));
    }
  }

  private ref(name: string, table: QName | undefined, scope: Scope): Typed {
    const col = this.resolve(name, table?.name, scope);
    // SQLite (with DQS, as in DO SQLite) would read an unknown "name" as a string literal:
    // when every table in scope is known, an unresolved column is an error here instead.
    if (!col && this.allKnown(scope)) {
      const qualified = table ? `${table.name}.${name}` : name;
      throw new VitessError('NOT_FOUND', `column "${qualified}" does not exist`, { columns: [name], ...(table ? { table: table.name } : {}) });
    }
    return typedColumn(table ? `${quoteIdent(table.name)}.${quoteIdent(name)}` : quoteIdent(name), col);
  }

  private allKnown(scope: Scope | undefined): boolean {
    for (let s = scope; s; s = s.parent) if (s.sources.some((src) => !src.columns)) return false;
    return true;
  }

  private resolve(name: string, table: string | undefined, scope: Scope | undefined): CatalogColumn | undefined {
    for (let s = scope; s; s = s.parent) {
      for (const src of s.sources) {
        if (table && src.alias !== table) continue;
        const col = src.columns?.find((c) => c.name === name);
        if (col) return col;
      }
    }
    return undefined;
  }

  private call(e: ExprCall, scope: Scope): Typed {
    const name = e.function.name.toLowerCase();
    if (e.function.schema) throw unsupported(`function ${e.function.schema}.${name}()`);
    if (name === 'exists') {
      const [sub] = e.args;
      if (e.args.length !== 1 || !sub) throw unsupported('EXISTS with several arguments');
      return { sql: `EXISTS ${this.expr(sub, scope).sql}`, type: 'bool' };
    }
    const rule = FUNCTIONS[name];
    if (!rule) throw unsupported(`function ${name}()`);
    const star = e.args.length === 1 && e.args[0]!.type === 'ref' && e.args[0]!.name === '*';
    const args: Typed[] = star ? [{ sql: '*', type: 'unknown' }] : e.args.map((a) => this.expr(a, scope));
    const [lo, hi] = rule.arity ?? [0, 100];
    if (!star && (args.length < lo || args.length > hi)) throw unsupported(`${name}() with ${args.length} arguments`);
    if (e.orderBy || e.withinGroup) throw unsupported(`ORDER BY inside ${name}()`);
    let sql = rule.render(args);
    if (e.distinct === 'distinct') {
      if (!rule.aggregate || args.length !== 1) throw unsupported(`DISTINCT in ${name}()`);
      sql = sql.replace('(', '(DISTINCT ');
    }
    if (e.filter) {
      if (!rule.aggregate) throw unsupported(`FILTER on ${name}()`);
      sql += ` FILTER (WHERE ${this.expr(e.filter, scope).sql})`;
    }
    if (e.over) {
      if (!rule.aggregate && !rule.window) throw unsupported(`OVER on ${name}()`);
      const parts: string[] = [];
      if (e.over.partitionBy?.length) parts.push(`PARTITION BY ${e.over.partitionBy.map((p) => this.expr(p, scope).sql).join(', ')}`);
      if (e.over.orderBy?.length) parts.push(`ORDER BY ${this.orderBy(e.over.orderBy, scope)}`);
      sql += ` OVER (${parts.join(' ')})`;
    } else if (rule.window) {
      throw unsupported(`${name}() without OVER`, 'needs an OVER clause');
    }
    const type = rule.type(args);
    const scale = type === 'numeric' ? rule.scale?.(args) : undefined;
    // Postgres's avg of a numeric is sum / count, rounded as a numeric division (see `Typed.ratio`).
    const ratio: [Typed, Typed] | undefined =
      name === 'avg' && type === 'numeric'
        ? [
            { sql: `sum${sql.slice(3)}`, type, ...withScale(scaleOf(args[0]!)) },
            { sql: `count${sql.slice(3)}`, type: 'int8' },
          ]
        : undefined;
    return { sql, type, ...withScale(scale), ...(ratio && { ratio }) };
  }

  private cast(e: ExprCast, scope: Scope): Typed {
    const to = pgTypeOf(e.to);
    if (to === 'bytea') return this.castToBytea(e.operand);
    const o = this.expr(e.operand, scope);
    const sql = ((): string => {
      switch (to) {
        case 'int2':
        case 'int4':
        case 'int8':
          // Postgres rounds fractional values to the nearest integer; SQLite's CAST truncates.
          return o.type === 'numeric' || o.type.startsWith('float') ? `CAST(round(${o.sql}) AS INTEGER)` : `CAST(${o.sql} AS INTEGER)`;
        case 'float4':
        case 'float8':
          return `CAST(${o.sql} AS REAL)`;
        case 'numeric':
          return `CAST(${o.sql} AS NUMERIC)`;
        case 'text':
          if (o.type === 'bool') return `(CASE ${o.sql} WHEN 1 THEN 'true' WHEN 0 THEN 'false' END)`;
          if (o.type === 'timestamp' || o.type === 'timestamptz')
            throw unsupported(`cast from ${o.type} to text`, 'would format differently on SQLite; cast in the client');
          return `CAST(${o.sql} AS TEXT)`;
        case 'bool':
          return (
            `(CASE WHEN ${o.sql} IS NULL THEN NULL WHEN typeof(${o.sql}) IN ('integer', 'real') THEN (${o.sql} <> 0) ` +
            `WHEN lower(${o.sql}) IN ('t','true','y','yes','on','1') THEN 1 WHEN lower(${o.sql}) IN ('f','false','n','no','off','0') THEN 0 END)`
          );
        case 'json':
        case 'jsonb':
          return `json(${o.sql})`;
        case 'date':
          return `date(${o.sql})`;
        case 'timestamp':
        case 'timestamptz':
          return `strftime(${TIMESTAMP_FORMAT}, ${o.sql})`;
        case 'uuid':
          return `lower(${o.sql})`;
        default:
          throw unsupported(`cast to ${e.to.kind === 'array' ? 'array' : e.to.name}`);
      }
    })();
    if (to !== 'numeric') return { sql, type: to };
    // numeric(p, s) has scale s (an output is rounded to it when read), numeric(p) none.
    const config = e.to.kind !== 'array' ? e.to.config : undefined;
    return { sql, type: to, ...withScale(config?.length ? (config[1] ?? 0) : scaleOf(o)) };
  }

  private castToBytea(operand: Expr): Typed {
    if (operand.type === 'parameter') return { sql: this.param(operand.name), type: 'bytea' };
    if (operand.type === 'string' && /^\\x([0-9a-fA-F]{2})*$/.test(operand.value)) {
      return { sql: `X'${operand.value.slice(2)}'`, type: 'bytea' };
    }
    if (operand.type === 'null') return { sql: 'NULL', type: 'bytea' };
    throw unsupported(`cast of ${describe(operand)} to bytea`, "is not supported on SQLite engines; bind a Uint8Array or use a '\\x…' literal");
  }

  private binary(op: string, left: Expr, right: Expr, scope: Scope): Typed {
    const l = this.expr(left, scope);
    const r = this.expr(right, scope);
    if (op === 'AND' || op === 'OR') return { sql: `(${l.sql} ${op} ${r.sql})`, type: 'bool' };
    if (COMPARISONS.has(op)) return { sql: `(${l.sql} ${op} ${r.sql})`, type: 'bool' };
    if (op === 'IN' || op === 'NOT IN') {
      // `x IN ($1)` parses as a bare parameter, not a list: SQLite needs the parentheses back.
      const list =
        right.type === 'list' || right.type === 'select' || right.type === 'union' || right.type === 'union all' || right.type === 'with'
          ? r.sql
          : `(${r.sql})`;
      return { sql: `(${l.sql} ${op} ${list})`, type: 'bool' };
    }
    if (ARITHMETIC.has(op)) {
      const sql = `(${l.sql} ${op} ${r.sql})`;
      const type = arithmeticType(l.type, r.type);
      if (type !== 'numeric') return { sql, type };
      const [ls, rs] = [scaleOf(l), scaleOf(r)];
      const known = ls !== undefined && rs !== undefined;
      // Postgres: + and - keep the larger scale, * the sum of both; / rounds to a scale it picks from the values.
      if (op === '/') return { sql, type, ratio: [l, r] };
      return { sql, type, ...withScale(!known ? undefined : op === '*' ? ls + rs : op === '%' ? undefined : Math.max(ls, rs)) };
    }
    if (op === '||') return { sql: `(${l.sql} || ${r.sql})`, type: 'text' };
    // SQLite's LIKE ignores ASCII case; Postgres LIKE does not. GLOB is case-sensitive, so the
    // LIKE pattern is rewritten into a GLOB pattern (escaping GLOB's own metacharacters first).
    if (op === 'LIKE' || op === 'NOT LIKE') {
      const glob = `replace(replace(replace(replace(replace(${r.sql}, '[', '[[]'), '*', '[*]'), '?', '[?]'), '%', '*'), '_', '?')`;
      return { sql: `(${l.sql} ${op === 'LIKE' ? '' : 'NOT '}GLOB ${glob})`, type: 'bool' };
    }
    if (op === 'ILIKE' || op === 'NOT ILIKE') return { sql: `(${l.sql} ${op === 'ILIKE' ? 'LIKE' : 'NOT LIKE'} ${r.sql})`, type: 'bool' };
    throw unsupported(`operator ${op}`);
  }

  /**
   * `outputs`: the select list, which an ORDER BY name or position means first (as in Postgres);
   * `int8Text`: its int8 outputs are read as text, and must still sort as numbers.
   */
  orderBy(items: OrderByStatement[], scope: Scope, outputs?: CatalogColumn[], int8Text = false): string {
    return items
      .map((o) => {
        const dir = o.order ?? 'ASC';
        const e = o.by;
        // An output named twice is not "the" output the name means (Postgres calls it ambiguous).
        const named = e.type === 'integer' ? outputs?.[e.value - 1] : e.type === 'ref' && !e.table ? outputs?.find((c) => c.name === e.name) : undefined;
        const unique = named && outputs!.filter((c) => c.name === named.name).length === 1 ? named : undefined;
        const typed: Pick<Typed, 'sql' | 'notNull'> = e.type === 'integer' ? { sql: String(e.value) } : this.expr(e, scope);
        const by = unique?.sortAs ?? ((int8Text && unique && this.int8OutputKey(unique)) || typed.sql);
        // Postgres sorts NULLs as larger than any value; SQLite as smaller. Spell it out, except on
        // a NOT NULL column: there it changes nothing, and without it SQLite can walk an index in
        // order instead of sorting every row (a snapshot page, a keyset-paged read).
        if ((named ? unique?.notNull : typed.notNull) && !this.compound) return `${by} ${dir}`;
        return `${by} ${dir} NULLS ${o.nulls ?? (dir === 'DESC' ? 'FIRST' : 'LAST')}`;
      })
      .join(', ');
  }

  /**
   * SQLite resolves an ORDER BY name or position to the output column first, which for an int8
   * read as text would sort 17 before 5: sort on the column it reads (which an index may already
   * hold in order), else on the value cast back to an integer.
   */
  private int8OutputKey(col: CatalogColumn): string | undefined {
    if (col.type !== 'int8') return undefined;
    return col.source && !this.compound ? col.source : `CAST(${quoteIdent(col.name)} AS INTEGER)`;
  }

  // ---- queries ----------------------------------------------------------------------------

  newScope(parent?: Scope): Scope {
    return { sources: [], ctes: new Map(), ...(parent ? { parent } : {}) };
  }

  private tableColumns(name: string, scope: Scope | undefined): CatalogColumn[] | undefined {
    for (let s = scope; s; s = s.parent) {
      const cte = s.ctes.get(name);
      if (cte) return cte;
    }
    return this.catalog.columns(name);
  }

  query(q: SelectStatement, parent?: Scope, top = false): RenderedQuery {
    switch (q.type) {
      case 'select':
        return this.select(q, parent, top);
      case 'union':
      case 'union all': {
        // The last branch's ORDER BY sorts the whole union, whose other branches may hold NULLs.
        this.compound++;
        try {
          const l = this.query(q.left, parent, top);
          const r = this.query(q.right, parent, top);
          // A scale holds for the union when both branches have it.
          const columns = l.columns.map(({ notNull: _, source: __, scale, ...c }, i) => ({
            ...c,
            ...withScale(r.columns[i]?.scale === scale ? scale : undefined),
          }));
          return { sql: `${l.sql} ${q.type.toUpperCase()} ${r.sql}`, columns };
        } finally {
          this.compound--;
        }
      }
      case 'values': {
        const scope = this.newScope(parent);
        const rows = q.values.map((row) => row.map((v) => this.expr(v, scope)));
        const columns = (rows[0] ?? []).map((v, i) => ({ name: `column${i + 1}`, type: v.type }));
        return { sql: `VALUES ${rows.map((r) => `(${r.map((v) => v.sql).join(', ')})`).join(', ')}`, columns };
      }
      case 'with': {
        const scope = this.newScope(parent);
        const binds = q.bind.map((b) => {
          if (
            b.statement.type !== 'select' &&
            b.statement.type !== 'union' &&
            b.statement.type !== 'union all' &&
            b.statement.type !== 'values' &&
            b.statement.type !== 'with'
          ) {
            throw unsupported(`data-modifying statement in WITH`);
          }
          const r = this.query(b.statement, scope);
          scope.ctes.set(b.alias.name, r.columns);
          return `${quoteIdent(b.alias.name)} AS (${r.sql})`;
        });
        if (q.in.type !== 'select' && q.in.type !== 'union' && q.in.type !== 'union all' && q.in.type !== 'values' && q.in.type !== 'with') {
          throw unsupported('WITH followed by a data-modifying statement');
        }
        const body = this.query(q.in, scope, top);
        return { sql: `WITH ${binds.join(', ')} ${body.sql}`, columns: body.columns };
      }
      default:
        throw unsupported(describe(q));
    }
  }

  private from(f: From, scope: Scope): string {
    if (f.lateral) throw unsupported('LATERAL');
    let sql: string;
    if (f.type === 'table') {
      if (f.name.schema) throw unsupported(`schema-qualified table ${f.name.schema}.${f.name.name}`);
      if (f.name.columnNames?.length) throw unsupported('column aliases on a table');
      const alias = f.name.alias ?? f.name.name;
      scope.sources.push({ alias, columns: this.tableColumns(f.name.name, scope) });
      sql = quoteIdent(f.name.name) + (f.name.alias ? ` AS ${quoteIdent(f.name.alias)}` : '');
    } else if (f.type === 'statement') {
      if (f.columnNames?.length) throw unsupported('column aliases on a subquery');
      const r = this.query(f.statement, scope.parent);
      scope.sources.push({ alias: f.alias, columns: r.columns });
      sql = `(${r.sql}) AS ${quoteIdent(f.alias)}`;
    } else {
      throw unsupported(`function ${f.function.name}() in FROM`);
    }
    if (!f.join) return sql;
    if (f.join.type === 'LEFT JOIN') {
      // Its columns read NULL where nothing matched, whatever their declaration says.
      const joined = scope.sources.at(-1)!;
      joined.columns = joined.columns?.map(({ notNull: _, ...c }) => c);
    }
    if (f.join.type === 'FULL JOIN' || f.join.type === 'RIGHT JOIN') {
      // SQLite has had them only since 3.39; refused to keep every engine on one behavior.
      throw unsupported(f.join.type);
    }
    const on = f.join.on ? ` ON ${this.expr(f.join.on, scope).sql}` : '';
    const using = f.join.using ? ` USING (${f.join.using.map((n) => quoteIdent(n.name)).join(', ')})` : '';
    return `${f.join.type} ${sql}${on}${using}`;
  }

  private select(q: Extract<SelectStatement, { type: 'select' }>, parent: Scope | undefined, top: boolean): RenderedQuery {
    if (q.for) throw unsupported(`FOR ${q.for.type.toUpperCase()}`, 'is not supported on SQLite engines (writes are serialized per shard)');
    if (q.skip) throw unsupported(q.skip.type.toUpperCase());
    const scope = this.newScope(parent);
    const from = (q.from ?? []).map((f, i) => {
      const sql = this.from(f, scope);
      return i === 0 || f.join ? sql : `, ${sql}`;
    });
    // DISTINCT or a GROUP BY position would compare a ratio output's text, not its value.
    const grouped = new Set(q.groupBy?.flatMap((g) => (g.type === 'integer' ? [g.value - 1] : [])));
    const cols = this.selectList(q.columns ?? [], scope, top, (i) => top && !this.compound && !q.distinct && !grouped.has(i));
    let sql = 'SELECT ';
    if (q.distinct === 'distinct') sql += 'DISTINCT ';
    else if (Array.isArray(q.distinct)) throw unsupported('DISTINCT ON');
    sql += cols.map((c) => c.sql).join(', ');
    if (from.length) sql += ` FROM ${from.join(' ').replace(/ , /g, ', ')}`;
    if (q.where) sql += ` WHERE ${this.expr(q.where, scope).sql}`;
    // GROUP BY and ORDER BY may also name output columns: they resolve after the inputs.
    const outScope: Scope = {
      sources: [...scope.sources, { alias: '', columns: cols.map((c) => c.column) }],
      ctes: new Map(),
      ...(scope.parent ? { parent: scope.parent } : {}),
    };
    if (q.groupBy?.length) sql += ` GROUP BY ${q.groupBy.map((g) => (g.type === 'integer' ? String(g.value) : this.expr(g, outScope).sql)).join(', ')}`;
    if (q.having) sql += ` HAVING ${this.expr(q.having, scope).sql}`;
    if (q.orderBy?.length)
      sql += ` ORDER BY ${this.orderBy(
        q.orderBy,
        outScope,
        cols.map((c) => c.column),
        top && this.opts.int8AsText,
      )}`;
    if (q.limit?.limit || q.limit?.offset) {
      sql += ` LIMIT ${q.limit.limit ? this.expr(q.limit.limit, scope).sql : '-1'}`;
      if (q.limit.offset) sql += ` OFFSET ${this.expr(q.limit.offset, scope).sql}`;
    }
    return { sql, columns: cols.map((c) => c.column) };
  }

  /** Renders a select (or RETURNING) list with explicit Postgres-style output names. */
  /** `ratios`: which outputs (by position) may read a quotient as its operands (see `Typed.ratio`): those nothing groups, dedupes or unions. */
  selectList(columns: SelectedColumn[], scope: Scope, top: boolean, ratios = (_position: number) => top): { sql: string; column: CatalogColumn }[] {
    const out: { sql: string; column: CatalogColumn }[] = [];
    for (const c of columns) {
      if (c.expr.type === 'ref' && c.expr.name === '*') {
        const qualifier = c.expr.table?.name;
        const sources = scope.sources.filter((s) => !qualifier || s.alias === qualifier);
        if (qualifier && !sources.length) throw new VitessError('NOT_FOUND', `missing FROM-clause entry for table "${qualifier}"`, { table: qualifier });
        for (const s of sources) {
          if (!s.columns) {
            out.push({ sql: qualifier ? `${quoteIdent(qualifier)}.*` : '*', column: { name: '*', type: 'unknown' } });
            continue;
          }
          for (const col of s.columns) {
            const ref = s.alias ? `${quoteIdent(s.alias)}.${quoteIdent(col.name)}` : quoteIdent(col.name);
            out.push(this.output(typedColumn(ref, col), col.name, top, ref, false));
          }
        }
        continue;
      }
      const e = this.expr(c.expr, scope);
      const source = c.expr.type === 'ref' ? this.qualified(c.expr.name, c.expr.table?.name, scope) : undefined;
      out.push(this.output(e, c.alias?.name ?? outputName(c.expr), top, source, ratios(out.length)));
    }
    return out;
  }

  /**
   * A column of this scope's sources as `"source"."name"`, when exactly one source has it: an
   * ORDER BY can name it so without meaning the output of the same name.
   */
  private qualified(name: string, table: string | undefined, scope: Scope): string | undefined {
    const owners = scope.sources.filter((s) => (!table || s.alias === table) && s.columns?.some((c) => c.name === name));
    return owners.length === 1 ? `${quoteIdent(owners[0]!.alias)}.${quoteIdent(name)}` : undefined;
  }

  /** `column`: the table column the output reads as it is, named with its source (another output may have its bare name). */
  private output(e: Typed, name: string, top: boolean, column: string | undefined, ratios: boolean): { sql: string; column: CatalogColumn } {
    const cast = top && this.opts.int8AsText && e.type === 'int8';
    const ratio = ratios ? e.ratio : undefined;
    const out: CatalogColumn = {
      name,
      type: e.type,
      ...(e.notNull && { notNull: true }),
      ...(cast && column && { source: column }),
      ...withScale(e.scale),
      ...(ratio && { ratio: [scaleOf(ratio[0]), scaleOf(ratio[1])], sortAs: e.sql }),
    };
    const sql = ratio ? `(CAST(${ratio[0].sql} AS TEXT) || ':' || CAST(${ratio[1].sql} AS TEXT))` : cast ? `CAST(${e.sql} AS TEXT)` : e.sql;
    return { sql: `${sql} AS ${quoteIdent(name)}`, column: out };
  }

  // ---- DML ----------------------------------------------------------------------------------

  /**
   * A value written to a column. A numeric(p, s) is rounded to s as Postgres stores it: exactly in
   * decimal for a parameter (when bound) or a literal, with SQLite's round() for an expression.
   */
  storeAs(column: Pick<CatalogColumn, 'type' | 'scale'>, v: Typed): string {
    const { type, scale } = column;
    if (type !== 'numeric' || scale === undefined) return storeAs(type, v.sql);
    const param = /^\?(\d+)$/.exec(v.sql);
    if (param) this.paramScales[Number(param[1]) - 1] = scale;
    else if (isNumericText(v.sql)) return numericAtScale(v.sql, scale);
    else return roundSql(v.sql, String(scale));
    return v.sql;
  }

  private targetTable(name: QName & { alias?: string }, scope: Scope): CatalogColumn[] | undefined {
    if (name.schema) throw unsupported(`schema-qualified table ${name.schema}.${name.name}`);
    const columns = this.catalog.columns(name.name);
    scope.sources.push({ alias: name.alias ?? name.name, columns });
    return columns;
  }

  private returning(cols: SelectedColumn[] | null | undefined, scope: Scope): RenderedQuery {
    if (!cols?.length) return { sql: '', columns: [] };
    const list = this.selectList(cols, scope, true);
    return { sql: ` RETURNING ${list.map((c) => c.sql).join(', ')}`, columns: list.map((c) => c.column) };
  }

  insert(s: InsertStatement): RenderedQuery {
    if (s.overriding) throw unsupported(`OVERRIDING ${s.overriding.toUpperCase()} VALUE`);
    const scope = this.newScope();
    const tableCols = this.targetTable(s.into, scope);
    const names = s.columns?.map((c) => c.name) ?? tableCols?.map((c) => c.name);
    const columnOf = (i: number): CatalogColumn => tableCols?.find((c) => c.name === names?.[i]) ?? { name: '', type: 'unknown' };
    let body: string;
    if (s.insert.type === 'values') {
      // SQLite has no DEFAULT in VALUES: it writes the column's default expression, or NULL.
      const value = (v: Expr, i: number): string => {
        if (v.type !== 'default' || !tableCols) return this.storeAs(columnOf(i), this.expr(v, scope));
        const d = tableCols.find((c) => c.name === names?.[i])?.default;
        return d === undefined ? 'NULL' : `(${d})`;
      };
      const rows = s.insert.values.map((row) => `(${row.map(value).join(', ')})`);
      body = `VALUES ${rows.join(', ')}`;
    } else {
      const q = this.query(s.insert);
      // SQLite needs a WHERE in INSERT … SELECT … ON CONFLICT to tell the clauses apart.
      body = s.onConflict ? `SELECT * FROM (${q.sql}) WHERE true` : q.sql;
    }
    const cols = s.columns ? ` (${s.columns.map((c) => quoteIdent(c.name)).join(', ')})` : '';
    const alias = s.into.alias ? ` AS ${quoteIdent(s.into.alias)}` : '';
    let sql = `INSERT INTO ${quoteIdent(s.into.name)}${alias}${cols} ${body}`;
    if (s.onConflict) {
      const oc = s.onConflict;
      if (oc.on?.type === 'on constraint') throw unsupported('ON CONFLICT ON CONSTRAINT', 'is not supported on SQLite engines; name the columns');
      const target = oc.on ? ` (${oc.on.exprs.map((x) => this.expr(x, scope).sql).join(', ')})` : '';
      if (oc.do === 'do nothing') {
        sql += ` ON CONFLICT${target} DO NOTHING`;
      } else {
        if (!target) throw unsupported('ON CONFLICT DO UPDATE without a conflict target', 'is not allowed; name the columns');
        const excluded = this.newScope(scope);
        excluded.sources.push({ alias: 'excluded', columns: tableCols });
        const sets = oc.do.sets.map(
          (set) => `${quoteIdent(set.column.name)} = ${this.storeAs(columnNamed(tableCols, set.column.name), this.expr(set.value, excluded))}`,
        );
        sql += ` ON CONFLICT${target} DO UPDATE SET ${sets.join(', ')}`;
        if (oc.where) sql += ` WHERE ${this.expr(oc.where, excluded).sql}`;
      }
    }
    const ret = this.returning(s.returning, scope);
    return { sql: sql + ret.sql, columns: ret.columns };
  }

  update(s: UpdateStatement): RenderedQuery {
    if (s.from) throw unsupported('UPDATE … FROM');
    const scope = this.newScope();
    const tableCols = this.targetTable(s.table, scope);
    const sets = s.sets.map((set) => `${quoteIdent(set.column.name)} = ${this.storeAs(columnNamed(tableCols, set.column.name), this.expr(set.value, scope))}`);
    const alias = s.table.alias ? ` AS ${quoteIdent(s.table.alias)}` : '';
    let sql = `UPDATE ${quoteIdent(s.table.name)}${alias} SET ${sets.join(', ')}`;
    if (s.where) sql += ` WHERE ${this.expr(s.where, scope).sql}`;
    const ret = this.returning(s.returning, scope);
    return { sql: sql + ret.sql, columns: ret.columns };
  }

  delete(s: DeleteStatement): RenderedQuery {
    const scope = this.newScope();
    this.targetTable(s.from, scope);
    const alias = s.from.alias ? ` AS ${quoteIdent(s.from.alias)}` : '';
    let sql = `DELETE FROM ${quoteIdent(s.from.name)}${alias}`;
    if (s.where) sql += ` WHERE ${this.expr(s.where, scope).sql}`;
    const ret = this.returning(s.returning, scope);
    return { sql: sql + ret.sql, columns: ret.columns };
  }
}

/** The column name Postgres gives an unaliased select-list expression. */
/** `scale` as an optional property: present only when known. */
const withScale = (scale: number | undefined): { scale?: number } => (scale === undefined ? {} : { scale });

/** A target table's column by name; unknown when the table or column is. */
function columnNamed(columns: CatalogColumn[] | undefined, name: string): CatalogColumn {
  return columns?.find((c) => c.name === name) ?? { name, type: 'unknown' };
}

/** A table column read as an expression. */
function typedColumn(sql: string, col: CatalogColumn | undefined): Typed {
  return { sql, type: col?.type ?? 'unknown', ...(col?.notNull && { notNull: true }), ...withScale(col?.scale) };
}

export function outputName(e: Expr): string {
  switch (e.type) {
    case 'ref':
      return e.name;
    case 'call':
      return e.function.name.toLowerCase();
    case 'cast': {
      const inner = outputName(e.operand);
      return inner !== '?column?' ? inner : e.to.kind === 'array' ? 'array' : pgTypeOf(e.to);
    }
    case 'member':
      return '?column?';
    case 'case':
      return 'case';
    case 'keyword':
      return e.keyword;
    case 'boolean':
      return 'bool';
    case 'select':
      return e.columns?.length === 1 && e.columns[0] ? (e.columns[0].alias?.name ?? outputName(e.columns[0].expr)) : '?column?';
    default:
      return '?column?';
  }
}

export function describe(node: Expr | Statement): string {
  return node.type.toUpperCase();
}

/** Wraps a value written to a typed column so storage stays canonical (and CHECKs can catch junk). */
export function storeAs(type: SqlType, sql: string): string {
  switch (type) {
    case 'timestamp':
    case 'timestamptz':
      // Postgres prints offsets as `+00`, which SQLite reads only as `+00:00`.
      return `coalesce(strftime(${TIMESTAMP_FORMAT}, ${sql}), strftime(${TIMESTAMP_FORMAT}, ${sql} || ':00'), ${sql})`;
    case 'date':
      return `coalesce(date(${sql}), ${sql})`;
    case 'uuid':
      return `lower(${sql})`;
    default:
      return sql;
  }
}
