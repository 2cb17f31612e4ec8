/**
 * Global sequences in a sharded keyspace (docs/sequences.md). A shard's own SERIAL would hand
 * out the same ids on every shard, so VTGate rewrites the DDL — a sequence column becomes a
 * plain integer column on the shards — and fills the column in INSERTs with ids it draws from
 * the keyspace's sequence DO, before the row is routed (the column may be the vindex column).
 * Pure: the plan's `Generate` primitive draws the ids and binds them as extra parameters when it
 * runs (router/engine/generate.ts).
 */
import { toSql, type CreateColumnDef, type CreateSequenceStatement, type CreateTableStatement, type Expr, type InsertStatement } from 'pgsql-ast-parser';
import { VitessError } from '../../rpc/errors.js';
import type { SqlValue } from '../../rpc/values.js';
import type { SchemaInfo } from './schema.js';
import { mapTree, walk } from '../../engines/dialect/ast.js';
import { renderStatement } from '../../engines/dialect/pg-render.js';
import { maxParam } from './sql.js';

/** Ids drawn before an INSERT runs: parameter `first + i` (0-based) takes the next id of `from[i]`. */
export interface SequenceDraw {
  first: number;
  from: string[];
  /** A one-row INSERT: its first drawn id is reported as `lastInsertId`. */
  lastInsertId: boolean;
}

/** A sequence created by CREATE SEQUENCE. */
export interface SequenceDefinition {
  name: string;
  start: number;
  ifNotExists: boolean;
}

const SERIAL_TYPES: Record<string, string> = {
  smallserial: 'smallint',
  serial2: 'smallint',
  serial: 'integer',
  serial4: 'integer',
  bigserial: 'bigint',
  serial8: 'bigint',
};
const INTEGER_TYPES = new Set(['smallint', 'int2', 'int', 'integer', 'int4', 'bigint', 'int8']);

/** The sequence a `nextval(…)` argument names: `'s'`, `'s'::regclass`, `'"S"'` (case kept when quoted). */
function sequenceArg(call: Expr, where: string): string {
  const arg = call.type === 'call' && call.args.length === 1 ? call.args[0]! : undefined;
  const text = arg?.type === 'string' ? arg.value : arg?.type === 'cast' && arg.operand.type === 'string' ? arg.operand.value : undefined;
  if (text === undefined) {
    throw new VitessError('UNSUPPORTED', `${where}: nextval() takes the sequence name as a string literal, e.g. nextval('orders_id_seq')`, {
      construct: 'nextval with a computed name',
    });
  }
  const quoted = /^"(.+)"$/.exec(text);
  return quoted ? quoted[1]! : text.toLowerCase();
}

const isNextval = (e: unknown): e is Expr & { type: 'call' } => {
  const n = e as { type?: string; function?: { name?: string; schema?: string } };
  return n.type === 'call' && n.function?.name?.toLowerCase() === 'nextval' && !n.function.schema;
};

/** Whether `nextval(…)` appears anywhere in the tree. */
function containsNextval(node: unknown): boolean {
  let found = false;
  walk(node, (n) => {
    if (isNextval(n)) found = true;
    return !found;
  });
  return found;
}

export interface SequenceColumns {
  /** The CREATE TABLE as the shards get it: sequence columns as plain integers, no per-shard default. */
  sql: string;
  /** The sequence columns; `type` is the shards' type of a SERIAL column. */
  columns: { column: string; sequence: string; type?: string }[];
  /** Sequences named by `DEFAULT nextval(…)`: they must exist before the table is created. */
  need: string[];
}

/**
 * CREATE TABLE in a sharded keyspace: `SERIAL`/`BIGSERIAL`/`SMALLSERIAL` become `integer`/`bigint`/
 * `smallint NOT NULL` drawing from `<table>_<column>_seq`; `DEFAULT nextval('s')` is removed and the
 * column draws from `s`. The rest of the statement is kept as written (spliced by position).
 */
export function sequenceColumns(ast: CreateTableStatement, source: string): SequenceColumns {
  const table = ast.name.name;
  const edits: { start: number; end: number; text: string }[] = [];
  const need = new Set<string>();
  const columns: SequenceColumns['columns'] = [];
  for (const c of ast.columns) {
    if (c.kind !== 'column') continue;
    const name = c.name.name;
    const declared = c.dataType.kind === 'array' ? undefined : c.dataType.name.toLowerCase();
    const serial = declared && SERIAL_TYPES[declared];
    const defaults = (c.constraints ?? []).filter((k) => k.type === 'default');
    const nextvals = defaults.filter((k) => k.type === 'default' && isNextval(k.default));
    const where = `column "${name}" of table "${table}"`;
    for (const k of defaults) {
      if (k.type === 'default' && !isNextval(k.default) && containsNextval(k.default)) {
        throw new VitessError(
          'UNSUPPORTED',
          `${where}: a DEFAULT may use nextval() only as the whole default (DEFAULT nextval('s')), since VTGate fills it before routing the row`,
          { construct: 'nextval inside a DEFAULT expression', table, columns: [name] },
        );
      }
    }
    if (defaults.length > 1) throw new VitessError('INVALID', `${where} has more than one DEFAULT`, { table, columns: [name] });
    if (serial && defaults.length) {
      throw new VitessError(
        'INVALID',
        `${where} is ${declared!.toUpperCase()} and has a DEFAULT too: a SERIAL column's default is its sequence (Postgres also refuses this)`,
        { table, columns: [name] },
      );
    }
    if (nextvals.length && !(declared && INTEGER_TYPES.has(declared))) {
      throw new VitessError(
        'INVALID',
        `${where} takes its DEFAULT from a sequence but is declared ${toSql.dataType(c.dataType).trim()}: sequence columns must be smallint, integer or bigint`,
        { table, columns: [name] },
      );
    }
    const at = (n: { _location?: { start: number; end: number } }) => {
      if (!n._location) throw new VitessError('INTERNAL', `no source position for ${where}`);
      return n._location;
    };
    if (serial) {
      const notNull = (c.constraints ?? []).some((k) => k.type === 'not null' || k.type === 'primary key');
      edits.push({ ...at(c.dataType), text: notNull ? serial : `${serial} NOT NULL` });
      columns.push({ column: name, sequence: `${table}_${name}_seq`, type: serial });
      continue;
    }
    const k = nextvals[0];
    if (k?.type === 'default') {
      const sequence = sequenceArg(k.default, where);
      need.add(sequence);
      edits.push({ ...at(k), text: '' });
      columns.push({ column: name, sequence });
    }
  }
  let sql = source;
  for (const e of edits.sort((a, b) => b.start - a.start)) sql = sql.slice(0, e.start) + e.text + sql.slice(e.end);
  return { sql, columns, need: [...need] };
}

/** `ALTER TABLE … ADD COLUMN` of a sequence column in a sharded keyspace: the existing rows would get per-shard ids. */
export function refuseAddedSequenceColumn(table: string, column: CreateColumnDef): void {
  const serial = column.dataType.kind !== 'array' && SERIAL_TYPES[column.dataType.name.toLowerCase()];
  if (serial || (column.constraints ?? []).some((k) => k.type === 'default' && containsNextval(k.default))) {
    throw new VitessError(
      'UNSUPPORTED',
      `ALTER TABLE ${table} ADD COLUMN ${column.name.name}: a sequence column (SERIAL or DEFAULT nextval) cannot be added to a table of a sharded keyspace, since each shard would number its existing rows on its own; add it with CREATE TABLE, or add a plain integer column and fill it`,
      { construct: 'ADD COLUMN of a sequence column', table, columns: [column.name.name] },
    );
  }
}

/** CREATE SEQUENCE in a sharded keyspace: the sequence lives in the keyspace's sequence DO. */
export function sequenceDefinition(ast: CreateSequenceStatement): SequenceDefinition {
  const name = ast.name.name;
  const { startWith, ...rest } = ast.options ?? {};
  const other = Object.keys(rest);
  if (ast.temp || ast.name.schema || other.length) {
    const what = other[0] ? `option ${other[0]}` : ast.temp ? 'TEMPORARY' : 'a schema-qualified name';
    throw new VitessError(
      'UNSUPPORTED',
      `CREATE SEQUENCE ${name}: ${what} is not supported for global sequences (they count up by 1 from START WITH, default 1)`,
      { construct: `CREATE SEQUENCE ${what}` },
    );
  }
  const start = startWith ?? 1;
  if (!Number.isSafeInteger(start) || start < 1)
    throw new VitessError('INVALID', `CREATE SEQUENCE ${name}: START WITH must be a positive integer, not ${start}`, { limit: 'sequence start' });
  return { name, start, ifNotExists: ast.ifNotExists === true };
}

/**
 * An INSERT into a table with sequence columns, or with `nextval('s')` in its VALUES: every
 * sequence column the INSERT leaves out or writes as DEFAULT, and every `nextval('s')`, becomes a
 * new parameter after the statement's own; explicit values are kept. Undefined when nothing is drawn.
 */
export function drawSequences(ast: InsertStatement, source: string, schema: SchemaInfo): { sql: string; draw: SequenceDraw } | undefined {
  const table = ast.into.name;
  const sequenceOf = new Map((schema.columns(table) ?? []).flatMap((c) => (c.sequence ? [[c.name, c.sequence] as const] : [])));
  const named = ast.columns?.map((c) => c.name);
  if (ast.insert.type !== 'values') {
    const left = [...sequenceOf.keys()].find((c) => !named?.includes(c));
    if (left)
      throw new VitessError(
        'UNSUPPORTED',
        `INSERT … SELECT into "${table}" must give its sequence column "${left}" a value: VTGate draws ids only for VALUES rows`,
        { construct: 'INSERT … SELECT without a sequence column', table, columns: [left] },
      );
    return undefined;
  }
  const rows = ast.insert.values;
  if (!sequenceOf.size && !containsNextval(rows)) return undefined;

  // Without a column list the values fill the table's columns in order (as far as they go).
  const width = Math.max(...rows.map((r) => r.length));
  const columns = named ?? (schema.columns(table) ?? []).slice(0, width).map((c) => c.name);
  const missing = [...sequenceOf.keys()].filter((c) => !columns.includes(c));
  const first = maxParam(source);
  const from: string[] = [];
  const draw = (sequence: string): Expr => {
    from.push(sequence);
    return { type: 'parameter', name: `$${first + from.length}` };
  };
  const values = rows.map((row, n) => {
    const filled = row.map((e, i) => {
      const sequence = sequenceOf.get(columns[i]!);
      if (sequence && e.type === 'default') return draw(sequence);
      return mapTree(e, (x) => (isNextval(x) ? draw(sequenceArg(x, `row ${n + 1} of the INSERT into "${table}"`)) : undefined));
    });
    return [...filled, ...missing.map((c) => draw(sequenceOf.get(c)!))];
  });
  if (!from.length) return undefined;
  const rewritten: InsertStatement = {
    ...ast,
    columns: [...columns, ...missing].map((name) => ({ name })),
    insert: { ...ast.insert, values },
  };
  return { sql: renderStatement(rewritten, source), draw: { first, from, lastInsertId: rows.length === 1 } };
}

/** How many ids the draw takes from each sequence, in order of first use. */
export function drawCounts(draw: SequenceDraw): Map<string, number> {
  const counts = new Map<string, number>();
  for (const s of draw.from) counts.set(s, (counts.get(s) ?? 0) + 1);
  return counts;
}

/** The statement's parameters followed by the drawn ids (`params` must bind every `$n` the statement uses). */
export function bindDrawn(params: SqlValue[], draw: SequenceDraw, ids: number[]): SqlValue[] {
  if (params.length < draw.first) throw new VitessError('INVALID', `no value bound for parameter $${params.length + 1}`);
  return [...params.slice(0, draw.first), ...ids];
}
