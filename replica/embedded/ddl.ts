/**
 * The primaries' DDL as an embedded replica runs it. A UNIQUE constraint or index other than the
 * primary key holds on each shard, not across shards, and the replica merges the shards into one
 * table: there two shards' rows with the same value would break it and stop the stream. A foreign
 * key holds within a shard too, and would act across them here (a moved parent's old version
 * deleted would cascade to its new shard's children), or could not even be created once the
 * UNIQUE it references is gone. The replica's rows come only from the primaries, which enforce
 * both, so it keeps neither: CREATE TABLE and ADD COLUMN lose UNIQUE and REFERENCES, CREATE UNIQUE
 * INDEX makes a plain index (reads still use it), ADD CONSTRAINT … UNIQUE / FOREIGN KEY is skipped,
 * and DROP CONSTRAINT becomes IF EXISTS (the constraint may be one skipped). A dropped or renamed
 * table takes its parked rows along (embedded-rows.ts).
 */
import type { ColumnConstraint, CreateColumnDef, Statement as Ast, TableAlteration } from 'pgsql-ast-parser';
import { parseOne } from '../../engines/dialect/parse.js';
import { renderStatement } from '../../engines/dialect/pg-render.js';
import type { Statement } from '../../rpc/results.js';
import { forgetParked, renameParked } from './rows.js';

/** A constraint the replica keeps: not UNIQUE, not a foreign key. */
const kept = (c: { type: string }) => c.type !== 'unique' && c.type !== 'reference' && c.type !== 'foreign key';

const column = (c: CreateColumnDef): CreateColumnDef => ({ ...c, constraints: c.constraints?.filter(kept) as ColumnConstraint[] | undefined });

function alteration(a: TableAlteration): TableAlteration[] {
  switch (a.type) {
    case 'add column':
      return [{ ...a, column: column(a.column) }];
    case 'add constraint':
      return kept(a.constraint) ? [a] : [];
    case 'drop constraint':
      return [{ ...a, ifExists: true }];
    default:
      return [a];
  }
}

/** The statements that make a DDL statement of the primaries happen in the replica (none, or the statement, and bookkeeping). */
export function replicaDdl(sql: string): Statement[] {
  // Most DDL is none of these: it goes as written (so does what the parser cannot read: the engine judges it).
  if (!/unique|references|drop|rename/i.test(sql)) return [{ sql }];
  let ast: Ast;
  try {
    ast = parseOne(sql).ast;
  } catch {
    return [{ sql }];
  }
  const render = (changed: Ast): Statement[] => [{ sql: JSON.stringify(changed) === JSON.stringify(ast) ? sql : renderStatement(changed, sql) }];
  switch (ast.type) {
    case 'create table': {
      const constraints = ast.constraints?.filter(kept);
      // An empty list of table constraints would be rendered as a trailing comma.
      return render({
        ...ast,
        columns: ast.columns.map((c) => (c.kind === 'column' ? column(c) : c)),
        constraints: constraints?.length ? constraints : undefined,
      });
    }
    case 'create index':
      return render({ ...ast, unique: undefined });
    case 'alter table': {
      const changes = ast.changes.flatMap(alteration);
      const renamed = changes.flatMap((a) => (a.type === 'rename' ? [renameParked(ast.table.name, a.to.name)] : []));
      return [...(changes.length ? render({ ...ast, changes }) : []), ...renamed];
    }
    case 'drop table':
      return [{ sql }, ...ast.names.map((n) => forgetParked(n.name))];
    default:
      return [{ sql }];
  }
}
