import type { AlterTableStatement, ColumnConstraint, CreateColumnDef, CreateIndexStatement, CreateTableStatement, TableConstraint } from 'pgsql-ast-parser';
import type { SqlType } from '../../rpc/values.js';
import { quoteIdent } from './sql-text.js';
import { unsupported, type SqliteRenderer } from './sqlite-render.js';
import { isSerial, pgTypeOf, sqliteDeclaredType, TIMESTAMP_FORMAT } from './types.js';

/** CHECKs that keep typed text columns honest on SQLite, named `<table>_<column>_<type>`. */
function typeCheck(table: string, column: string, type: SqlType): string {
  const c = quoteIdent(column);
  const body = ((): string | undefined => {
    switch (type) {
      case 'bool':
        return `${c} IN (0, 1)`;
      // SQLite would keep text it cannot convert ('x' in an INT column); Postgres refuses it.
      case 'int2':
      case 'int4':
      case 'int8':
        return `typeof(${c}) IN ('integer', 'null')`;
      case 'float4':
      case 'float8':
      case 'numeric':
        return `typeof(${c}) IN ('integer', 'real', 'null')`;
      case 'json':
      case 'jsonb':
        return `json_valid(${c})`;
      case 'date':
        return `date(${c}) IS ${c}`;
      case 'timestamp':
      case 'timestamptz':
        return `strftime(${TIMESTAMP_FORMAT}, ${c}) IS ${c}`;
      default:
        return undefined;
    }
  })();
  return body ? ` CONSTRAINT ${quoteIdent(`${table}_${column}_${type}`)} CHECK (${body})` : '';
}

function references(c: Extract<ColumnConstraint, { type: 'reference' }> | Extract<TableConstraint, { type: 'foreign key' }>): string {
  let sql = ` REFERENCES ${quoteIdent(c.foreignTable.name)}`;
  if (c.foreignColumns.length) sql += ` (${c.foreignColumns.map((n) => quoteIdent(n.name)).join(', ')})`;
  if (c.onDelete) sql += ` ON DELETE ${c.onDelete.toUpperCase()}`;
  if (c.onUpdate) sql += ` ON UPDATE ${c.onUpdate.toUpperCase()}`;
  return sql;
}

function constraintName(c: { constraintName?: { name: string } | undefined }): string {
  return c.constraintName ? ` CONSTRAINT ${quoteIdent(c.constraintName.name)}` : '';
}

function columnDef(r: SqliteRenderer, table: string, col: CreateColumnDef, primaryKey: boolean, scope: ReturnType<SqliteRenderer['newScope']>): string {
  if (col.collate) throw unsupported('COLLATE');
  if (col.dataType.kind === 'array') throw unsupported(`array column ${col.name.name}`);
  const type = pgTypeOf(col.dataType);
  const name = quoteIdent(col.name.name);
  if (isSerial(col.dataType)) {
    if (!primaryKey) throw unsupported(`SERIAL column ${table}.${col.name.name} that is not the primary key`);
    // The rowid alias; AUTOINCREMENT so a deleted id is never handed out again, as with a sequence.
    return `${name} INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL`;
  }
  let sql = `${name} ${sqliteDeclaredType(col.dataType)}`;
  // SQLite lets non-integer primary keys hold NULL; Postgres never does.
  if (primaryKey) sql += ' PRIMARY KEY NOT NULL';
  for (const c of col.constraints ?? []) {
    switch (c.type) {
      case 'primary key':
        break;
      case 'not null':
        sql += `${constraintName(c)} NOT NULL`;
        break;
      case 'null':
        break;
      case 'unique':
        sql += `${constraintName(c)} UNIQUE`;
        break;
      case 'default':
        sql += `${constraintName(c)} DEFAULT (${r.storeAs({ type }, r.expr(c.default, r.newScope()))})`;
        break;
      case 'check':
        sql += `${constraintName(c)} CHECK (${r.expr(c.expr, scope).sql})`;
        break;
      case 'reference':
        sql += `${constraintName(c)}${references(c)}`;
        break;
      default:
        throw unsupported(`column constraint ${(c as { type: string }).type.toUpperCase()}`);
    }
  }
  // Postgres refuses a string longer than VARCHAR(n); SQLite would store it.
  const length = type === 'text' && col.dataType.config?.[0];
  if (length) sql += ` CONSTRAINT ${quoteIdent(`${table}_${col.name.name}_length`)} CHECK (length(${name}) <= ${length})`;
  return sql + typeCheck(table, col.name.name, type);
}

export function createTable(r: SqliteRenderer, s: CreateTableStatement): string {
  if (s.temporary || s.unlogged) throw unsupported('TEMPORARY/UNLOGGED tables');
  if (s.inherits?.length) throw unsupported('INHERITS');
  if (s.name.schema) throw unsupported(`schema-qualified table ${s.name.schema}.${s.name.name}`);
  const table = s.name.name;
  const cols: CreateColumnDef[] = s.columns.map((c) => {
    if (c.kind !== 'column') throw unsupported('CREATE TABLE … LIKE');
    return c;
  });
  const tablePk = s.constraints?.find((c) => c.type === 'primary key');
  const inlinePk = cols.filter((c) => c.constraints?.some((k) => k.type === 'primary key'));
  // A single-column primary key is written inline, where SQLite needs it for SERIAL (rowid) columns.
  const singlePk =
    inlinePk.length === 1 ? inlinePk[0]!.name.name : tablePk?.type === 'primary key' && tablePk.columns.length === 1 ? tablePk.columns[0]!.name : undefined;
  const scope = r.newScope();
  scope.sources.push({ alias: table, columns: cols.map((c) => ({ name: c.name.name, type: pgTypeOf(c.dataType) })) });
  const parts = cols.map((c) => columnDef(r, table, c, c.name.name === singlePk, scope));
  for (const c of s.constraints ?? []) {
    switch (c.type) {
      case 'primary key':
        if (c.columns.length === 1) break;
        parts.push(`${constraintName(c)} PRIMARY KEY (${c.columns.map((n) => quoteIdent(n.name)).join(', ')})`.trim());
        // Postgres primary keys are NOT NULL; SQLite composite keys are not unless told.
        for (const n of c.columns) {
          const i = cols.findIndex((col) => col.name.name === n.name);
          if (i >= 0 && !/ NOT NULL/.test(parts[i]!)) parts[i] += ' NOT NULL';
        }
        break;
      case 'unique':
        parts.push(`${constraintName(c)} UNIQUE (${c.columns.map((n) => quoteIdent(n.name)).join(', ')})`.trim());
        break;
      case 'check':
        parts.push(`${constraintName(c)} CHECK (${r.expr(c.expr, scope).sql})`.trim());
        break;
      case 'foreign key':
        parts.push(`${constraintName(c)} FOREIGN KEY (${c.localColumns.map((n) => quoteIdent(n.name)).join(', ')})${references(c)}`.trim());
        break;
      default:
        throw unsupported(`table constraint ${(c as { type: string }).type.toUpperCase()}`);
    }
  }
  return `CREATE TABLE${s.ifNotExists ? ' IF NOT EXISTS' : ''} ${quoteIdent(table)} (${parts.join(', ')})`;
}

export function createIndex(r: SqliteRenderer, s: CreateIndexStatement): string {
  if (s.using && s.using.name.toLowerCase() !== 'btree') throw unsupported(`index method ${s.using.name}`);
  if (s.concurrently) throw unsupported('CREATE INDEX CONCURRENTLY');
  const table = s.table.name;
  const scope = r.newScope();
  scope.sources.push({ alias: table, columns: r.catalog.columns(table) });
  const names: string[] = [];
  const exprs = s.expressions.map((x) => {
    if (x.collate) throw unsupported('COLLATE');
    if (x.opclass) throw unsupported(`operator class ${x.opclass.name}`);
    if (x.expression.type === 'ref') names.push(x.expression.name);
    return `${r.expr(x.expression, scope).sql}${x.order ? ` ${x.order.toUpperCase()}` : ''}`;
  });
  // Postgres names an unnamed index <table>_<columns>_idx; SQLite requires a name.
  const name = s.indexName?.name ?? `${table}_${names.join('_') || 'expr'}_idx`;
  let sql = `CREATE ${s.unique ? 'UNIQUE ' : ''}INDEX${s.ifNotExists ? ' IF NOT EXISTS' : ''} ${quoteIdent(name)} ON ${quoteIdent(table)} (${exprs.join(', ')})`;
  if (s.where) sql += ` WHERE ${r.expr(s.where, scope).sql}`;
  return sql;
}

export function alterTable(r: SqliteRenderer, s: AlterTableStatement): string {
  if (s.only) throw unsupported('ALTER TABLE ONLY');
  const table = s.table.name;
  if (s.changes.length !== 1) throw unsupported('several changes in one ALTER TABLE', 'are not supported on SQLite engines; send one per statement');
  const change = s.changes[0]!;
  const head = `ALTER TABLE ${quoteIdent(table)}`;
  switch (change.type) {
    case 'add column':
      if (change.ifNotExists) throw unsupported('ADD COLUMN IF NOT EXISTS');
      if (change.column.constraints?.some((c) => c.type === 'primary key' || c.type === 'unique')) {
        throw unsupported('ADD COLUMN with PRIMARY KEY or UNIQUE', 'is not supported on SQLite engines; add the column, then CREATE UNIQUE INDEX');
      }
      {
        const scope = r.newScope();
        const existing = r.catalog.columns(table);
        scope.sources.push({ alias: table, columns: existing && [...existing, { name: change.column.name.name, type: pgTypeOf(change.column.dataType) }] });
        return `${head} ADD COLUMN ${columnDef(r, table, change.column, false, scope)}`;
      }
    case 'drop column':
      if (change.ifExists) throw unsupported('DROP COLUMN IF EXISTS');
      return `${head} DROP COLUMN ${quoteIdent(change.column.name)}`;
    case 'rename column':
      return `${head} RENAME COLUMN ${quoteIdent(change.column.name)} TO ${quoteIdent(change.to.name)}`;
    case 'rename':
      return `${head} RENAME TO ${quoteIdent(change.to.name)}`;
    default:
      throw unsupported(`ALTER TABLE … ${change.type.toUpperCase()}`);
  }
}
