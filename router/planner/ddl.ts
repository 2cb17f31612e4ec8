/**
 * DDL goes to every shard of the keyspace. CREATE TABLE in a sharded keyspace needs a primary
 * key (the default vindex column, and the key replication applies changes by); a table with
 * lookup vindexes brings its lookup tables along.
 */
import { toSql, type AlterTableStatement, type CreateTableStatement, type DropStatement, type Statement } from 'pgsql-ast-parser';
import { VitessError } from '../../rpc/errors.js';
import type { KeyspaceVSchema } from '../vschema.js';
import type { Primitive, SchemaChange } from './plan.js';
import { tableRouting } from './route.js';
import type { SchemaInfo } from './schema.js';
import { passThrough, routeOf, type RouteBase } from './select.js';

export interface DdlPlan {
  root: Primitive;
  tables: string[];
  schemaChange?: SchemaChange;
}

const lookupType = (type: string) => type.replace(/^bigserial|^serial8/, 'bigint').replace(/^serial4?|^smallserial|^serial2/, 'int');

export function planDdl(ast: Statement, source: string, ks: KeyspaceVSchema, schema: SchemaInfo): DdlPlan {
  const base: RouteBase = { keyspace: ks.name, shards: ks.shards, target: { type: 'all' } };
  const all = passThrough(base, source);
  switch (ast.type) {
    case 'create table': return createTable(ast, all, base, ks);
    case 'drop table': return dropTable(ast, all, base, ks);
    case 'alter table': return alterTable(ast, all, ks, schema);
    default: return { root: all, tables: [] };
  }
}

function createTable(ast: CreateTableStatement, all: Primitive, base: RouteBase, ks: KeyspaceVSchema): DdlPlan {
  const table = ast.name.name;
  const columns = ast.columns.flatMap((c) => (c.kind === 'column' ? [{ name: c.name.name, type: toSql.dataType(c.dataType) }] : []));
  const primaryKey = [
    ...ast.columns.flatMap((c) => (c.kind === 'column' && c.constraints?.some((k) => k.type === 'primary key') ? [c.name.name] : [])),
    ...(ast.constraints ?? []).flatMap((k) => (k.type === 'primary key' ? k.columns.map((c) => c.name) : [])),
  ];
  const sharded = ks.shards.length > 1;
  if (sharded && !primaryKey.length) {
    throw new VitessError('UNSUPPORTED',
      `CREATE TABLE ${table} has no primary key: tables in sharded keyspace "${ks.name}" need one (it is the default vindex column, and the key by which replicas apply changes)`,
      { construct: 'CREATE TABLE without PRIMARY KEY', table });
  }
  const change: SchemaChange = { kind: 'create', table, primaryKey, columns };
  const routing = tableRouting(ks, { primaryKey: () => primaryKey, columns: () => columns }, table);
  if (!sharded || routing.kind === 'reference') return { root: all, tables: [table], schemaChange: change };

  const missing = [routing.vindex?.column, ...routing.lookups.map((l) => l.column)].find((c) => c !== undefined && !columns.some((x) => x.name === c));
  if (missing) {
    throw new VitessError('INVALID', `the vschema shards table "${table}" by column "${missing}", which CREATE TABLE ${table} does not define`, { table, columns: [missing] });
  }
  const lookups = routing.lookups.map((l) => {
    const type = lookupType(columns.find((c) => c.name === l.column)!.type);
    return routeOf(base, `CREATE TABLE IF NOT EXISTS ${l.table} (value ${type} NOT NULL, keyspace_id TEXT NOT NULL, PRIMARY KEY (value, keyspace_id))`, []);
  });
  const root: Primitive = lookups.length ? { op: 'Sequence', steps: [all, ...lookups] } : all;
  return { root, tables: [table, ...routing.lookups.map((l) => l.table)], schemaChange: change };
}

function dropTable(ast: DropStatement, all: Primitive, base: RouteBase, ks: KeyspaceVSchema): DdlPlan {
  const tables = ast.names.map((n) => n.name);
  const lookupTables = tables.flatMap((t) => {
    const v = ks.tables[t];
    return v?.type === 'sharded' ? v.lookups.map((l) => l.table) : [];
  });
  const drops = lookupTables.map((t) => routeOf(base, `DROP TABLE IF EXISTS ${t}`, []));
  return { root: drops.length ? { op: 'Sequence', steps: [all, ...drops] } : all, tables: [...tables, ...lookupTables], schemaChange: { kind: 'drop', tables } };
}

function alterTable(ast: AlterTableStatement, all: Primitive, ks: KeyspaceVSchema, schema: SchemaInfo): DdlPlan {
  const table = ast.table.name;
  const routing = tableRouting(ks, schema, table);
  const placing = routing.kind === 'sharded' && ks.shards.length > 1 ? [routing.vindex?.column, ...routing.lookups.map((l) => l.column)] : [];
  const change: Extract<SchemaChange, { kind: 'alter' }> = { kind: 'alter', table };
  for (const c of ast.changes) {
    const touched = c.type === 'drop column' || c.type === 'rename column' ? c.column.name : undefined;
    if (touched !== undefined && placing.includes(touched)) {
      throw new VitessError('UNSUPPORTED', `ALTER TABLE ${table} may not drop or rename "${touched}": it is a vindex column of the table`, { construct: 'ALTER TABLE of a vindex column', table, columns: [touched] });
    }
    if (c.type === 'rename') {
      if (ks.tables[table]) throw new VitessError('UNSUPPORTED', `ALTER TABLE ${table} RENAME: "${table}" is named in the vschema, which would no longer describe it; change the vschema instead`, { construct: 'ALTER TABLE RENAME', table });
      change.rename = c.to.name;
    }
    if (c.type === 'add column') (change.addColumns ??= []).push({ name: c.column.name.name, type: toSql.dataType(c.column.dataType) });
    if (c.type === 'drop column') (change.dropColumns ??= []).push(c.column.name);
    if (c.type === 'rename column') (change.renameColumns ??= []).push([c.column.name, c.to.name]);
  }
  return { root: all, tables: [table], schemaChange: change };
}
