/**
 * What a token's grants allow of one statement (docs/security.md): its keyspace, the tables it
 * touches anywhere (joins, subqueries, CTE bodies, INSERT … SELECT, RETURNING, UPDATE … FROM),
 * the kind of statement and the functions it calls; and, for row filters, the statement rewritten
 * so that it reads and writes only the token's rows, the filter values bound as parameters.
 * Pure. Fail closed: what cannot be checked or filtered exactly is refused (FORBIDDEN, naming
 * the table or the construct).
 */
import type {
  DeleteStatement,
  Expr,
  ExprCall,
  From,
  FromStatement,
  FromTable,
  InsertStatement,
  QName,
  SelectFromStatement,
  Statement,
  UpdateStatement,
  WithRecursiveStatement,
  WithStatement,
} from 'pgsql-ast-parser';
import { mapTree, walk } from '../../engines/dialect/ast.js';
import { parseOne } from '../../engines/dialect/parse.js';
import { renderStatement } from '../../engines/dialect/pg-render.js';
import { VitessError } from '../../rpc/errors.js';
import type { SqlValue } from '../../rpc/values.js';
import type { ValueSource } from '../planner/plan.js';
import { maxParam, valueSource } from '../planner/sql.js';
import type { VSchema } from '../vschema.js';
import { PURE_FUNCTIONS, WRITE_FUNCTIONS } from './functions.js';
import { checkKeyspace, grantsKey, inFilter, rowFilterOf, type Grants, type RowFilter } from './grants.js';

export interface Authorized {
  sql: string;
  params: SqlValue[];
}

type Node = Record<string, unknown>;
type Internal = (table: string) => boolean;
type Ctes = ReadonlySet<string>;

const QUERIES = new Set(['select', 'union', 'union all', 'values', 'with', 'with recursive']);
const DML = new Set(['insert', 'update', 'delete']);
const DDL = new Set(['create table', 'drop table', 'alter table', 'create index', 'drop index', 'create sequence']);
/** Postgres resolves unqualified `pg_*` names in pg_catalog first; `sqlite_*` are SQLite's own. */
const SYSTEM = /^(pg_|sqlite_)/i;
/** Casts that keep a value as written: no rounding, truncation or folding (char(2), name, numeric(4,1) would). */
const KEEPING_CASTS = new Set(['text', 'varchar', 'int', 'int2', 'int4', 'int8', 'integer', 'smallint', 'bigint', 'uuid']);
const CACHE_SIZE = 1000;

const forbidden = (message: string, details: { table?: string; construct?: string } = {}) => new VitessError('FORBIDDEN', message, details);

/**
 * Throws FORBIDDEN (naming the table, function or construct, and why) or returns the statement to
 * plan: the text as sent when nothing needed rewriting, else rendered with the row filters added,
 * their values appended to the parameters. SYNTAX for what does not parse, as the planner.
 */
export function authorizeStatement(sql: string, params: SqlValue[], keyspace: string, grants: Grants, internal: Internal): Authorized {
  if (grants.admin) return { sql, params };
  checkKeyspace(grants, keyspace);
  const a = cachedAuthorization(sql, keyspace, grants, internal);
  return { sql: a.sql, params: bind(a, params) };
}

// ---- internal tables ---------------------------------------------------------------------

const internals = new WeakMap<VSchema, Map<string, Internal>>();

/**
 * Tables only admin tokens reach: VTGate's own (`_vt_*`: change capture, 2PC, the sequence DO's
 * `_vt_sequences` and `_vt_sequence_columns`), SQLite's AUTOINCREMENT state (`sqlite_sequence`),
 * and the keyspace's lookup-vindex tables (VTGate keeps them in step with the rows). One function
 * per vschema and keyspace, so the authorization cache, keyed by it, survives across requests.
 */
export function internalTables(vschema: VSchema, keyspace: string): Internal {
  let byKeyspace = internals.get(vschema);
  if (!byKeyspace) internals.set(vschema, (byKeyspace = new Map()));
  let internal = byKeyspace.get(keyspace);
  if (!internal) {
    const tables = Object.values(vschema.keyspaces.find((k) => k.name === keyspace)?.tables ?? {});
    const lookups = new Set(tables.flatMap((t) => (t.type === 'sharded' ? t.lookups.map((l) => l.table.toLowerCase()) : [])));
    internal = (table) => {
      const t = table.toLowerCase();
      return t.startsWith('_vt_') || t === 'sqlite_sequence' || lookups.has(t);
    };
    byKeyspace.set(keyspace, internal);
  }
  return internal;
}

// ---- the cache ---------------------------------------------------------------------------

/** What a statement comes to under some grants, independent of the parameter values. */
interface Authorization {
  sql: string;
  /** The highest `$n` of the statement as sent; the filter values follow it. */
  first: number;
  append: SqlValue[];
  /** Parameters that must hold a row filter's value (an INSERT's or a SET's filter column). */
  checks: { param: number; filter: RowFilter; where: string }[];
}

/** Per internal-tables function (one per vschema and keyspace): statement, keyspace and grants → authorization. */
const caches = new WeakMap<Internal, Map<string, Authorization>>();

function cachedAuthorization(sql: string, keyspace: string, grants: Grants, internal: Internal): Authorization {
  let cache = caches.get(internal);
  if (!cache) caches.set(internal, (cache = new Map()));
  const key = `${keyspace}\n${grantsKey(grants)}\n${sql}`;
  let a = cache.get(key);
  if (a) {
    cache.delete(key); // most recently used last
  } else {
    a = authorize(sql, grants, internal);
    if (cache.size >= CACHE_SIZE) cache.delete(cache.keys().next().value!);
  }
  cache.set(key, a);
  return a;
}

/** The request's parameters checked against the authorization, the filter values appended. */
function bind(a: Authorization, params: SqlValue[]): SqlValue[] {
  for (const c of a.checks) {
    if (!inFilter(c.filter, params[c.param])) throw outsideFilter(c.where, c.filter);
  }
  if (!a.append.length) return params;
  if (params.length < a.first) throw new VitessError('INVALID', `no value bound for parameter $${params.length + 1}`);
  return [...params.slice(0, a.first), ...a.append];
}

// ---- the analysis ------------------------------------------------------------------------

interface Context {
  grants: Grants;
  internal: Internal;
  source: string;
  first: number;
  append: SqlValue[];
  checks: Authorization['checks'];
  /** The parameter number of each row filter used (one per filter: one column type). */
  numbers: Map<RowFilter, number>;
}

function authorize(sql: string, grants: Grants, internal: Internal): Authorization {
  // EXPLAIN as the planner reads it: the keyword blanked out, the statement authorized.
  const explain = /^\s*explain\s+/i.exec(sql);
  const text = explain ? ' '.repeat(explain[0].length) + sql.slice(explain[0].length) : sql;
  const { ast, source } = parseOne(text);
  const cx: Context = { grants, internal, source, first: maxParam(sql), append: [], checks: [], numbers: new Map() };
  const out = statement(ast, cx);
  // Every rewrite adds a filter value: none added, nothing changed, and the text stays as sent.
  const rewritten = cx.append.length ? `${explain ? 'EXPLAIN ' : ''}${renderStatement(out, source)}` : sql;
  return { sql: rewritten, first: cx.first, append: cx.append, checks: cx.checks };
}

function statement(ast: Statement, cx: Context): Statement {
  if (DDL.has(ast.type)) checkDdl(ast, cx);
  else if (!QUERIES.has(ast.type) && !DML.has(ast.type)) {
    const what = ast.type.toUpperCase();
    throw forbidden(`${what} statements are not allowed for this token`, { construct: what });
  }
  return rewrite(ast, cx, new Set());
}

/** Copies a tree with every statement in it checked, and filtered where a row filter applies. */
function rewrite<T>(node: T, cx: Context, ctes: Ctes): T {
  return mapTree(node, (n) => {
    switch (n.type) {
      case 'select':
        return select(n as unknown as SelectFromStatement, cx, ctes);
      case 'with':
        return withClause(n as unknown as WithStatement, cx, ctes);
      case 'with recursive':
        return withRecursive(n as unknown as WithRecursiveStatement, cx, ctes);
      case 'insert':
        return insert(n as unknown as InsertStatement, cx, ctes);
      case 'update':
        return update(n as unknown as UpdateStatement, cx, ctes);
      case 'delete':
        return remove(n as unknown as DeleteStatement, cx, ctes);
      case 'call':
        checkCall(n as unknown as ExprCall, cx);
        return undefined;
      // Table references are handled where they occur (FROM, DML targets): one anywhere else is unknown.
      case 'table':
        throw forbidden('a table reference in this position cannot be checked', { construct: 'table reference' });
    }
    if (typeof n.opSchema === 'string' && n.opSchema !== 'pg_catalog') {
      throw forbidden(`operators of schema "${n.opSchema}" are not allowed for this token`, { construct: `OPERATOR(${n.opSchema}.…)` });
    }
    return undefined;
  });
}

/** `rewrite` applied to every field of a node but those named. */
function rewriteFields<T extends object>(n: T, cx: Context, ctes: Ctes, keep: string[]): T {
  const out: Node = {};
  for (const [k, v] of Object.entries(n)) out[k] = k === '_location' || keep.includes(k) ? v : rewrite(v, cx, ctes);
  return out as T;
}

function and(...parts: (Expr | null | undefined)[]): Expr | undefined {
  const es = parts.filter((e): e is Expr => !!e);
  return es.length ? es.reduce((left, right) => ({ type: 'binary', op: 'AND', left, right })) : undefined;
}

/** `alias.column = $n`, $n bound to the filter's value: never spliced into the text. */
function condition(f: RowFilter, alias: string, cx: Context): Expr {
  let n = cx.numbers.get(f);
  if (n === undefined) {
    cx.append.push(f.value);
    n = cx.first + cx.append.length;
    cx.numbers.set(f, n);
  }
  return { type: 'binary', op: '=', left: { type: 'ref', table: { name: alias }, name: f.column }, right: { type: 'parameter', name: `$${n}` } };
}

// ---- tables ------------------------------------------------------------------------------

/** A name outside the default schema, a system catalog or an internal table: admin tokens only. */
function checkName(q: QName, cx: Context, what: string): void {
  const table = q.name;
  if (q.schema && q.schema !== 'public') {
    throw forbidden(`${what} "${q.schema}.${q.name}": only the default schema is open to this token`, { table });
  }
  if (SYSTEM.test(table)) throw forbidden(`${what} "${table}" is a system catalog, open to admin tokens only`, { table });
  if (cx.internal(table)) throw forbidden(`${what} "${table}" is internal to Vitess.do, open to admin tokens only`, { table });
}

/**
 * Checks a table the statement touches; its row filter, if the token has one. A grant matches the
 * name as Postgres folds it (`"Orders"` is not `orders`); internal names and row filters match in
 * any letter case, as SQLite, which ignores the case of quoted names too, reads them.
 */
function checkTable(q: QName, cx: Context): RowFilter | undefined {
  checkName(q, cx, 'table');
  if (cx.grants.tables !== '*' && !cx.grants.tables.includes(q.name)) throw forbidden(`table "${q.name}" is not granted to this token`, { table: q.name });
  return rowFilterOf(cx.grants, q.name);
}

/** A FROM table checked (a CTE in scope is no table); the condition its row filter adds, if any. */
function fromTable(f: FromTable, cx: Context, ctes: Ctes): Expr | undefined {
  if (!f.name.schema && ctes.has(f.name.name)) return undefined;
  const filter = checkTable(f.name, cx);
  return filter && condition(filter, f.name.alias ?? f.name.name, cx);
}

const refuseWrite = (cx: Context, what: string): void => {
  if (cx.grants.readOnly) throw forbidden(`${what}: this token is read-only`, { construct: what });
};

// ---- queries -----------------------------------------------------------------------------

/**
 * Each filtered table's condition goes to the WHERE; for a table on the nullable side of an
 * outer join, to the ON of that join, where it removes the other tenants' rows before they are
 * matched (in the WHERE it would also drop the null-extended rows). Where no ON can take it (a
 * FULL JOIN, USING), the table becomes `(SELECT * FROM t WHERE …) AS t`, exact in any position.
 */
function select(s: SelectFromStatement, cx: Context, ctes: Ctes): SelectFromStatement {
  if (s.for) refuseWrite(cx, `SELECT … FOR ${s.for.type.toUpperCase()}`);
  const out = rewriteFields(s, cx, ctes, ['from', 'for']); // `for` is `{ type: 'update' }`: no statement
  if (!s.from) return out;
  const from = s.from.map((f) => (f.type === 'table' ? rewriteFields(f, cx, ctes, ['name']) : rewrite(f, cx, ctes)));
  const where: Expr[] = [];
  s.from.forEach((f, i) => {
    const cond = f.type === 'table' ? fromTable(f, cx, ctes) : undefined;
    if (!cond) return;
    const at = placement(from, i);
    if (at === 'where') where.push(cond);
    else if (at === 'derived') from[i] = derived(from[i] as FromTable, cond);
    else from[at] = { ...from[at]!, join: { ...from[at]!.join!, on: and(from[at]!.join!.on, cond) } };
  });
  return where.length ? { ...out, from, where: and(out.where, ...where) } : { ...out, from };
}

/**
 * Where a filter on `from[i]` belongs. FROM is a left-deep chain: `from[i]` is the right operand
 * of its own join and inside the left operand of the later joins of its group (until a comma).
 * Inner and cross joins, and the preserved side of an outer join, let a filter rise to the WHERE;
 * the nullable side of LEFT/RIGHT takes it into the ON; a FULL JOIN keeps neither side.
 */
function placement(from: From[], i: number): number | 'where' | 'derived' {
  const onOf = (k: number) => (from[k]!.join!.on ? k : 'derived');
  const own = from[i]!.join?.type;
  if (own === 'LEFT JOIN') return onOf(i);
  if (own === 'FULL JOIN') return 'derived';
  for (let k = i + 1; k < from.length && from[k]!.join; k++) {
    const type = from[k]!.join!.type;
    if (type === 'RIGHT JOIN') return onOf(k);
    if (type === 'FULL JOIN') return 'derived';
  }
  return 'where';
}

function derived(t: FromTable, cond: Expr): FromStatement {
  const { columnNames, ...name } = t.name;
  return {
    type: 'statement',
    statement: { type: 'select', columns: [{ expr: { type: 'ref', name: '*' } }], from: [{ type: 'table', name }], where: cond },
    alias: t.name.alias ?? t.name.name,
    ...(columnNames && { columnNames }),
    ...(t.join && { join: t.join }),
  };
}

/** A non-recursive WITH: each body sees the CTEs before it (a later name is still a table there). */
function withClause(w: WithStatement, cx: Context, ctes: Ctes): WithStatement {
  let scope = ctes;
  const bind = w.bind.map((b) => {
    const statement = rewrite(b.statement, cx, scope);
    scope = new Set([...scope, b.alias.name]);
    return { ...b, statement };
  });
  return { ...w, bind, in: rewrite(w.in, cx, scope) };
}

function withRecursive(w: WithRecursiveStatement, cx: Context, ctes: Ctes): WithRecursiveStatement {
  const scope = new Set([...ctes, w.alias.name]);
  return { ...w, bind: rewrite(w.bind, cx, scope), in: rewrite(w.in, cx, scope) };
}

// ---- writes ------------------------------------------------------------------------------

const sameColumn = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

const outsideFilter = (where: string, f: RowFilter) =>
  forbidden(`${where}: ${f.column} must be this token's row-filter value (written as a literal, or a bound parameter holding it)`, {
    table: f.table,
    construct: `write outside the row filter on ${f.table}.${f.column}`,
  });

/** A literal or `$n` (cast only to a type that keeps it as written); undefined for anything else. */
function writtenValue(e: Expr, source: string): ValueSource | undefined {
  if (e.type !== 'cast') return valueSource(e, source);
  const to = e.to;
  return to.kind === undefined && !to.schema && !to.config && KEEPING_CASTS.has(to.name) ? writtenValue(e.operand, source) : undefined;
}

/** The value written to a filter column must be the filter's: a literal now, a parameter when bound. */
function keepInFilter(e: Expr | undefined, f: RowFilter, cx: Context, where: string): void {
  const v = e && writtenValue(e, cx.source);
  if (v && 'param' in v) cx.checks.push({ param: v.param, filter: f, where });
  else if (!(v && 'literal' in v && inFilter(f, v.literal))) throw outsideFilter(where, f);
}

function insert(s: InsertStatement, cx: Context, ctes: Ctes): InsertStatement {
  refuseWrite(cx, 'INSERT');
  const out = rewriteFields(s, cx, ctes, ['into']);
  const f = checkTable(s.into, cx);
  if (!f) return out;
  const where = `INSERT INTO ${s.into.name}`;
  // Every position naming the column: SQLite would take a second, differently quoted one too.
  const at = (s.columns ?? []).flatMap((c, i) => (sameColumn(c.name, f.column) ? [i] : []));
  if (!at.length) throw outsideFilter(`${where} (name the column ${f.column} in the column list)`, f);
  if (s.insert.type !== 'values') {
    throw forbidden(`${where} … SELECT: rows of a row-filtered table are written with VALUES, where each row's ${f.column} is checked`, {
      table: f.table,
      construct: 'INSERT … SELECT',
    });
  }
  for (const row of s.insert.values) for (const i of at) keepInFilter(row[i], f, cx, where);
  const conflict = s.onConflict;
  if (!conflict || conflict.do === 'do nothing') return out;
  for (const set of conflict.do.sets) if (sameColumn(set.column.name, f.column)) keepInFilter(set.value, f, cx, `${where} … DO UPDATE SET ${set.column.name}`);
  // The conflicting row may be another tenant's: it is then left alone, not overwritten.
  return { ...out, onConflict: { ...out.onConflict!, where: and(condition(f, s.into.alias ?? s.into.name, cx), out.onConflict!.where) } };
}

function update(u: UpdateStatement, cx: Context, ctes: Ctes): UpdateStatement {
  refuseWrite(cx, 'UPDATE');
  const out = rewriteFields(u, cx, ctes, ['table', 'from']);
  const conds: Expr[] = [];
  const f = checkTable(u.table, cx);
  if (f) {
    for (const set of u.sets) if (sameColumn(set.column.name, f.column)) keepInFilter(set.value, f, cx, `UPDATE ${u.table.name} SET ${set.column.name}`);
    conds.push(condition(f, u.table.alias ?? u.table.name, cx));
  }
  // UPDATE … FROM joins its table as an inner join: its filter goes to the WHERE.
  const from = u.from?.type === 'table' ? rewriteFields(u.from, cx, ctes, ['name']) : rewrite(u.from, cx, ctes);
  const fromCond = u.from?.type === 'table' ? fromTable(u.from, cx, ctes) : undefined;
  if (fromCond) conds.push(fromCond);
  return { ...out, ...(from && { from }), ...(conds.length ? { where: and(...conds, out.where) } : {}) };
}

function remove(d: DeleteStatement, cx: Context, ctes: Ctes): DeleteStatement {
  refuseWrite(cx, 'DELETE');
  const out = rewriteFields(d, cx, ctes, ['from']);
  const f = checkTable(d.from, cx);
  return f ? { ...out, where: and(condition(f, d.from.alias ?? d.from.name, cx), out.where) } : out;
}

// ---- functions ---------------------------------------------------------------------------

function checkCall(call: ExprCall, cx: Context): void {
  const { name, schema } = call.function;
  const shown = schema ? `${schema}.${name}` : name;
  const write = WRITE_FUNCTIONS.has(name);
  if (schema && schema !== 'pg_catalog') {
    throw forbidden(`function ${shown}() is not allowed for this token: only built-in functions (pg_catalog) are`, { construct: `${shown}()` });
  }
  if (!PURE_FUNCTIONS.has(name) && !write) {
    throw forbidden(`function ${shown}() is not allowed for this token: only functions known to be free of side effects are (router/access/functions.ts)`, {
      construct: `${shown}()`,
    });
  }
  if (write && cx.grants.readOnly) throw forbidden(`function ${shown}() advances a sequence: this token is read-only`, { construct: `${shown}()` });
  if (write) checkSequence(call, cx);
}

/** nextval('s'), currval('s'): the sequence must be named, and not be one of VTGate's. */
function checkSequence(call: ExprCall, cx: Context): void {
  const arg = call.args.length === 1 ? call.args[0]! : undefined;
  const text = arg?.type === 'string' ? arg.value : arg?.type === 'cast' && arg.operand.type === 'string' ? arg.operand.value : undefined;
  if (text === undefined || text.includes('.')) {
    throw forbidden(`${call.function.name}() takes the sequence name as a string literal of the default schema, e.g. nextval('orders_id_seq')`, {
      construct: `${call.function.name}() with a computed or qualified name`,
    });
  }
  checkName({ name: text.replace(/^"(.*)"$/, '$1') }, cx, 'sequence');
}

// ---- DDL ---------------------------------------------------------------------------------

function checkDdl(ast: Statement, cx: Context): void {
  const what = ast.type.toUpperCase();
  refuseWrite(cx, what);
  for (const q of ddlTables(ast, cx)) {
    if (checkTable(q, cx)) {
      throw forbidden(`${what} ${q.name}: the token has a row filter on "${q.name}", so it may change its rows only, not the table`, {
        table: q.name,
        construct: what,
      });
    }
  }
}

const refused = (construct: string, why: string) => forbidden(`${construct} is not allowed for this token: ${why}`, { construct });

/** The tables a DDL statement creates, changes or refers to (foreign keys, LIKE, OWNED BY). */
function ddlTables(ast: Statement, cx: Context): QName[] {
  const refs: QName[] = [];
  walk(ast, (n) => {
    if (n.foreignTable) refs.push(n.foreignTable as QName);
    if (n.kind === 'like table') refs.push(n.like as QName);
  });
  switch (ast.type) {
    case 'create table':
      if (ast.temporary) throw refused('CREATE TEMPORARY TABLE', 'a temporary table would hide the table of that name from every statement on the shard');
      if (ast.inherits?.length) throw refused('CREATE TABLE … INHERITS', "the parent table's reads would include the new table's rows");
      return [ast.name, ...refs];
    case 'alter table':
      if (ast.changes.some((c) => 'behaviour' in c && c.behaviour === 'cascade')) throw refused('ALTER TABLE … CASCADE', 'it drops objects of other tables');
      if (ast.changes.some((c) => c.type === 'owner')) throw refused('ALTER TABLE … OWNER TO', "a table's owner is the deployment's to set");
      return [ast.table, ...ast.changes.flatMap((c) => (c.type === 'rename' ? [c.to] : [])), ...refs];
    case 'drop table':
      if (ast.cascade === 'cascade') throw refused('DROP TABLE … CASCADE', 'it drops objects of other tables');
      return ast.names;
    case 'create index':
      return [ast.table];
    case 'create sequence': {
      const owner = ast.options.ownedBy;
      return [ast.name, ...(owner && owner !== 'none' ? [{ name: owner.table, ...(owner.schema && { schema: owner.schema }) }] : [])];
    }
    case 'drop index':
      for (const q of ast.names) checkName(q, cx, 'index');
      if (cx.grants.tables !== '*' || cx.grants.rows.length)
        throw refused('DROP INDEX', 'an index name does not say its table; it needs a token granted every table, without row filters');
      return [];
    default:
      return [];
  }
}
