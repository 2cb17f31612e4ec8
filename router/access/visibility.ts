/**
 * What a token may see of a keyspace's data outside statements: change-stream events, snapshot
 * pages and the DDL an embedded replica builds its schema from (docs/security.md). Pure: the
 * gateway applies it to what the tablets return.
 */
import type { RowChange } from '../../rpc/changes.js';
import { VitessError } from '../../rpc/errors.js';
import { parseOne } from '../../engines/dialect/parse.js';
import { inFilter, rowFilterOf, type Grants, type RowFilter } from './grants.js';

export interface Visibility {
  /** Whether the token may read `table` at all. */
  table(table: string): boolean;
  /** The change as the token may see it: itself, a delete of its key (the row left the token's rows), or nothing. */
  change(c: RowChange): RowChange | undefined;
  /** Whether a schema change is about tables the token may read. */
  ddl(text: string): boolean;
  /** The token's row filter on `table`, if any. */
  rowFilter(table: string): RowFilter | undefined;
}

/** The tables a DDL statement is about; `undefined` when it does not name one (DROP INDEX). */
function ddlTables(text: string): string[] | undefined {
  let ast: Record<string, unknown>;
  try {
    ast = parseOne(text).ast as unknown as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const name = (q: unknown) => (q as { name: string }).name.toLowerCase();
  switch (ast.type) {
    case 'create table':
      return [name(ast.name)];
    case 'alter table':
    case 'create index':
      return [name(ast.table)];
    case 'drop table':
      return (ast.names as unknown[]).map(name);
    default:
      return undefined;
  }
}

/** `undefined`: the token sees everything (an admin, or a token of every table without row filters). */
export function visibility(g: Grants, internal: (table: string) => boolean): Visibility | undefined {
  if (g.admin) return undefined;
  const granted = g.tables === '*' ? undefined : new Set(g.tables);
  const table = (t: string) => {
    const lower = t.toLowerCase();
    return !internal(lower) && (!granted || granted.has(lower));
  };
  const ddlSeen = new Map<string, boolean>();
  return {
    table,
    rowFilter: (t) => rowFilterOf(g, t),
    change(c) {
      if (!table(c.table)) return undefined;
      const f = rowFilterOf(g, c.table);
      if (!f) return c;
      if (c.op === 'delete') {
        // A delete carries the key only: when the filter column is not part of it, the token's
        // copy deletes by key (a key it may never have held; docs/security.md, Limits).
        return c.key[f.column] === undefined || inFilter(f, c.key[f.column]) ? c : undefined;
      }
      if (inFilter(f, c.row?.[f.column])) return c;
      return c.op === 'update' ? { table: c.table, op: 'delete', key: c.key } : undefined;
    },
    ddl(text) {
      let seen = ddlSeen.get(text);
      if (seen === undefined) {
        const ts = ddlTables(text);
        seen = ts ? ts.every(table) : granted === undefined;
        ddlSeen.set(text, seen);
      }
      return seen;
    },
  };
}

/** FORBIDDEN unless the token may read `table`. */
export function checkReadable(v: Visibility | undefined, table: string): void {
  if (v && !v.table(table)) throw new VitessError('FORBIDDEN', `the token does not grant table "${table}"`, { table });
}
