/**
 * DDL goes to every shard of the keyspace. CREATE TABLE in a sharded keyspace needs a primary
 * key (the default vindex column, and the key replication applies changes by); a table with
 * lookup vindexes brings its lookup tables along. Sequence columns of a sharded keyspace become
 * plain integer columns on the shards (router/planner/sequences.ts).
 */
import { toSql, type AlterTableStatement, type CreateSequenceStatement, type CreateTableStatement, type DropStatement, type Statement } from 'pgsql-ast-parser';
import { VitessError } from '../../rpc/errors.js';
import type { KeyspaceVSchema } from '../vschema.js';
import type { Primitive, SchemaChange, SequenceWork } from './plan.js';
import { tableRouting } from './route.js';
import type { SchemaInfo } from './schema.js';
import { passThrough, routeOf, type RouteBase } from './select.js';
import { refuseAddedSequenceColumn, sequenceColumns, sequenceDefinition } from './sequences.js';

export interface DdlPlan {
  root: Primitive;
  tables: string[];
  schemaChange?: SchemaChange;
  sequences?: SequenceWork;
}

const lookupType = (type: string) => type.replace(/^bigserial|^serial8/, 'bigint').replace(/^serial4?|^smallserial|^serial2/, 'int');

export function planDdl(ast: Statement, source: string, ks: KeyspaceVSchema, schema: SchemaInfo): DdlPlan {
  const base: RouteBase = { keyspace: ks.name, shards: ks.shards, target: { type: 'all' } };
  const all = passThrough(base, source);
  switch (ast.type) {
    case 'create table':
      return createTable(ast, source, base, ks);
    case 'drop table':
      return dropTable(ast, all, base, ks);
    case 'alter table':
      return alterTable(ast, all, ks, schema);
    case 'create sequence':
      return createSequence(ast, ks);
    default:
      return { root: all, tables: [] };
  }
}

function createTable(ast: CreateTableStatement, source: string, base: RouteBase, ks: KeyspaceVSchema): DdlPlan {
  const table = ast.name.name;
  const sharded = ks.shards.length > 1;
  // A sharded keyspace numbers sequence columns globally; the shards get plain integer columns.
  const seq = sharded ? sequenceColumns(ast, source) : undefined;
  const all = passThrough(base, seq?.sql ?? source);
  const columns = ast.columns.flatMap((c) => {
    if (c.kind !== 'column') return [];
    const s = seq?.columns.find((x) => x.column === c.name.name);
    return [{ name: c.name.name, type: s?.type ?? toSql.dataType(c.dataType), ...(s && { sequence: s.sequence }) }];
  });
  const sequences: Pick<DdlPlan, 'sequences'> = seq?.need.length ? { sequences: { need: seq.need } } : {};
  const primaryKey = [
    ...ast.columns.flatMap((c) => (c.kind === 'column' && c.constraints?.some((k) => k.type === 'primary key') ? [c.name.name] : [])),
    ...(ast.constraints ?? []).flatMap((k) => (k.type === 'primary key' ? k.columns.map((c) => c.name) : [])),
  ];
  if (sharded && !primaryKey.length) {
    throw new VitessError(
      'UNSUPPORTED',
      `CREATE TABLE ${table} has no primary key: tables in sharded keyspace "${ks.name}" need one (it is the default vindex column, and the key by which replicas apply changes)`,
      { construct: 'CREATE TABLE without PRIMARY KEY', table },
    );
  }
  const change: SchemaChange = { kind: 'create', table, primaryKey, columns };
  const routing = tableRouting(ks, { primaryKey: () => primaryKey, columns: () => columns }, table);
  if (!sharded || routing.kind === 'reference') return { root: all, tables: [table], schemaChange: change, ...sequences };

  const missing = [routing.vindex?.column, ...routing.lookups.map((l) => l.column)].find((c) => c !== undefined && !columns.some((x) => x.name === c));
  if (missing) {
    throw new VitessError('INVALID', `the vschema shards table "${table}" by column "${missing}", which CREATE TABLE ${table} does not define`, {
      table,
      columns: [missing],
    });
  }
  const lookups = routing.lookups.map((l) => {
    const type = lookupType(columns.find((c) => c.name === l.column)!.type);
    return routeOf(
      base,
      `CREATE TABLE IF NOT EXISTS ${l.table} (value ${type} NOT NULL, keyspace_id TEXT NOT NULL, refs INT NOT NULL, PRIMARY KEY (value, keyspace_id))`,
      [],
    );
  });
  const root: Primitive = lookups.length ? { op: 'Sequence', steps: [all, ...lookups] } : all;
  return { root, tables: [table, ...routing.lookups.map((l) => l.table)], schemaChange: change, ...sequences };
}

/** CREATE SEQUENCE: only global sequences, which live in the keyspace's sequence DO (no shard is touched). */
function createSequence(ast: CreateSequenceStatement, ks: KeyspaceVSchema): DdlPlan {
  if (ks.shards.length === 1) {
    throw new VitessError(
      'UNSUPPORTED',
      `CREATE SEQUENCE ${ast.name.name}: keyspace "${ks.name}" is unsharded, where tables number rows with the engine's own SERIAL; global sequences are for sharded keyspaces`,
      { construct: 'CREATE SEQUENCE in an unsharded keyspace' },
    );
  }
  return { root: { op: 'Sequence', steps: [] }, tables: [], sequences: { define: sequenceDefinition(ast) } };
}

function dropTable(ast: DropStatement, all: Primitive, base: RouteBase, ks: KeyspaceVSchema): DdlPlan {
  const tables = ast.names.map((n) => n.name);
  const lookupTables = tables.flatMap((t) => {
    const v = ks.tables[t];
    return v?.type === 'sharded' ? v.lookups.map((l) => l.table) : [];
  });
  const drops = lookupTables.map((t) => routeOf(base, `DROP TABLE IF EXISTS ${t}`, []));
  return {
    root: drops.length ? { op: 'Sequence', steps: [all, ...drops] } : all,
    tables: [...tables, ...lookupTables],
    schemaChange: { kind: 'drop', tables },
  };
}

function alterTable(ast: AlterTableStatement, all: Primitive, ks: KeyspaceVSchema, schema: SchemaInfo): DdlPlan {
  const table = ast.table.name;
  const routing = tableRouting(ks, schema, table);
  const placing = routing.kind === 'sharded' && ks.shards.length > 1 ? [routing.vindex?.column, ...routing.lookups.map((l) => l.column)] : [];
  const change: Extract<SchemaChange, { kind: 'alter' }> = { kind: 'alter', table };
  for (const c of ast.changes) {
    const touched = c.type === 'drop column' || c.type === 'rename column' ? c.column.name : undefined;
    if (touched !== undefined && placing.includes(touched)) {
      throw new VitessError('UNSUPPORTED', `ALTER TABLE ${table} may not drop or rename "${touched}": it is a vindex column of the table`, {
        construct: 'ALTER TABLE of a vindex column',
        table,
        columns: [touched],
      });
    }
    if (c.type === 'rename') {
      if (ks.tables[table])
        throw new VitessError(
          'UNSUPPORTED',
          `ALTER TABLE ${table} RENAME: "${table}" is named in the vschema, which would no longer describe it; change the vschema instead`,
          { construct: 'ALTER TABLE RENAME', table },
        );
      change.rename = c.to.name;
    }
    if (c.type === 'add column' && ks.shards.length > 1) refuseAddedSequenceColumn(table, c.column);
    if (c.type === 'add column') (change.addColumns ??= []).push({ name: c.column.name.name, type: toSql.dataType(c.column.dataType) });
    if (c.type === 'drop column') (change.dropColumns ??= []).push(c.column.name);
    if (c.type === 'rename column') (change.renameColumns ??= []).push([c.column.name, c.to.name]);
  }
  return { root: all, tables: [table], schemaChange: change };
}
