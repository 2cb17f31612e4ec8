import type { Statement } from 'pgsql-ast-parser';
import type { SqlType } from '../../rpc/values.js';
import { parseOne } from './parse.js';
import { alterTable, createIndex, createTable } from './sqlite-ddl.js';
import { quoteIdent } from './sql-text.js';
import { SqliteRenderer, unsupported, type Catalog, type CatalogColumn, type RenderOptions } from './sqlite-render.js';

export type { Catalog, CatalogColumn, RenderOptions } from './sqlite-render.js';

/** How a numeric output is read back: rounded to its scale, or `a:b` divided as Postgres divides. */
export type NumericForm = Pick<CatalogColumn, 'scale' | 'ratio'>;

/** A Postgres statement rendered for SQLite. */
export interface SqliteStatement {
  sql: string;
  /** Parameters `?1…?n` the statement binds: the caller's `$1…$n`. */
  paramCount: number;
  /** Parameters written to a numeric(p, s) column: rounded to s when bound, as Postgres stores them. */
  paramScales?: (number | undefined)[];
  /** Result column types by position; `unknown` ones are typed from the values. */
  columnTypes: SqlType[];
  /** Numeric outputs by position whose scale is known or that are ratios (absent when none is). */
  numerics?: (NumericForm | undefined)[];
  /** The statement changes the schema: cached catalog entries are stale after it. */
  ddl: boolean;
  /** Table the statement writes or alters, if any. */
  table?: string;
}

/** Translate one Postgres-dialect statement (with `$n` parameters) into SQLite. */
export function toSqlite(sql: string, catalog: Catalog, opts: RenderOptions = {}): SqliteStatement {
  const parsed = parseOne(sql);
  const r = new SqliteRenderer(parsed, catalog, opts);
  const out = render(r, parsed.ast);
  return { ...out, paramCount: r.paramCount, ...(r.paramScales.length && { paramScales: r.paramScales }) };
}

/** The outputs' types, and how numeric ones are read (see `NumericForm`). */
function outputs(columns: CatalogColumn[]): Pick<SqliteStatement, 'columnTypes' | 'numerics'> {
  const numerics = columns.map((c) => (c.type === 'numeric' && (c.scale !== undefined || c.ratio) ? { scale: c.scale, ratio: c.ratio } : undefined));
  return { columnTypes: columns.map((c) => c.type), ...(numerics.some(Boolean) && { numerics }) };
}

function render(r: SqliteRenderer, ast: Statement): Omit<SqliteStatement, 'paramCount'> {
  const dml = (q: { sql: string; columns: CatalogColumn[] }, table: string) => ({ sql: q.sql, ...outputs(q.columns), ddl: false, table });
  const ddl = (sql: string, table?: string) => ({ sql, columnTypes: [], ddl: true, ...(table ? { table } : {}) });
  switch (ast.type) {
    case 'select':
    case 'union':
    case 'union all':
    case 'values':
    case 'with': {
      const q = r.query(ast, undefined, true);
      return { sql: q.sql, ...outputs(q.columns), ddl: false };
    }
    case 'insert':
      return dml(r.insert(ast), ast.into.name);
    case 'update':
      return dml(r.update(ast), ast.table.name);
    case 'delete':
      return dml(r.delete(ast), ast.from.name);
    case 'create table':
      return ddl(createTable(r, ast), ast.name.name);
    case 'create index':
      return ddl(createIndex(r, ast), ast.table.name);
    case 'alter table':
      return ddl(alterTable(r, ast), ast.table.name);
    case 'drop table':
    case 'drop index': {
      if (ast.cascade) throw unsupported(`${ast.type.toUpperCase()} … CASCADE`);
      if (ast.names.length !== 1) throw unsupported(`${ast.type.toUpperCase()} of several names`, 'is not supported on SQLite engines; drop one per statement');
      const kind = ast.type === 'drop table' ? 'TABLE' : 'INDEX';
      const name = ast.names[0]!.name;
      return ddl(`DROP ${kind}${ast.ifExists ? ' IF EXISTS' : ''} ${quoteIdent(name)}`, kind === 'TABLE' ? name : undefined);
    }
    case 'begin':
    case 'start transaction':
    case 'commit':
    case 'rollback':
      throw unsupported(ast.type.toUpperCase(), 'is not accepted as a statement; use transaction() or batch(…, { atomic: true })');
    default:
      throw unsupported(`statement ${ast.type.toUpperCase()}`);
  }
}
