/**
 * UPDATE and DELETE route like SELECT (by the WHERE clause). An UPDATE may not change a vindex
 * column (the row would belong on another shard); lookup entries follow the rows they index.
 */
import type { DeleteStatement, Expr, SelectedColumn, SelectFromStatement, UpdateStatement } from 'pgsql-ast-parser';
import { VitessError } from '../../rpc/errors.js';
import { HIDDEN, type LookupDelete, type LookupUpdate, type Primitive } from './plan.js';
import { chooseRoute, Scope, type RouteChoice, type TableRouting } from './route.js';
import type { SchemaInfo } from './schema.js';
import { passThrough, routeOf, type RouteBase } from './select.js';
import { renderStatement } from '../../engines/dialect/pg-render.js';
import { compactParams } from './sql.js';

export const KEY_COLUMN = `${HIDDEN}k`;
export const lookupColumn = (i: number): string => `${HIDDEN}l${i}`;

interface DmlPlan {
  kind: RouteChoice['kind'];
  root: Primitive;
}

function requireVindex(routing: TableRouting, verb: string) {
  if (!routing.vindex) {
    throw new VitessError(
      'NOT_FOUND',
      `${verb} on table "${routing.name}": VTGate does not know how it is sharded: name its vindex in the vschema, or create it through VTGate so its primary key is known`,
      { table: routing.name },
    );
  }
  return routing.vindex;
}

/** `vindex AS __vt_k, lookup_i AS __vt_l<i>`: what VTGate needs to keep lookup tables in step. */
function keyColumns(routing: TableRouting, alias: string, lookups: string[]): SelectedColumn[] {
  const ref = (name: string): Expr => ({ type: 'ref', name, table: { name: alias } });
  return [{ expr: ref(routing.vindex!.column), alias: { name: KEY_COLUMN } }, ...lookups.map((c, i) => ({ expr: ref(c), alias: { name: lookupColumn(i) } }))];
}

export function planUpdate(
  ast: UpdateStatement,
  source: string,
  routing: TableRouting,
  schema: SchemaInfo,
  ks: { keyspace: string; shards: string[] },
): DmlPlan {
  const vindex = requireVindex(routing, 'UPDATE');
  const alias = ast.table.alias ?? ast.table.name;
  const setCols = ast.sets.map((s) => s.column.name);
  if (setCols.includes(vindex.column)) {
    throw new VitessError(
      'UNSUPPORTED',
      `UPDATE may not change "${vindex.column}" of table "${routing.name}": it is the vindex column (${vindex.type}) that places the row, so the row would belong on another shard. Delete the row and insert it again instead`,
      { construct: 'UPDATE of a vindex column', table: routing.name, columns: [vindex.column] },
    );
  }
  const choice = chooseRoute(new Scope([{ alias, routing }], schema), ast.where, [], source);
  const base: RouteBase = { ...ks, target: choice.target };
  const lookups = routing.lookups.filter((l) => setCols.includes(l.column));
  if (!lookups.length) return { kind: choice.kind, root: passThrough(base, source) };

  const keys = keyColumns(
    routing,
    alias,
    lookups.map((l) => l.column),
  );
  const select: SelectFromStatement = {
    type: 'select',
    columns: keys,
    from: [{ type: 'table', name: { name: ast.table.name, ...(ast.table.alias && { alias: ast.table.alias }) } }],
    where: ast.where,
  };
  const before = compactParams(renderStatement(select, source));
  const update = compactParams(renderStatement({ ...ast, returning: [...(ast.returning ?? []), ...keys] }, source));
  const root: LookupUpdate = {
    op: 'LookupUpdate',
    before: routeOf(base, before.sql, before.params),
    input: routeOf(base, update.sql, update.params),
    vindex,
    lookups,
    returning: !!ast.returning?.length,
  };
  return { kind: choice.kind, root };
}

export function planDelete(
  ast: DeleteStatement,
  source: string,
  routing: TableRouting,
  schema: SchemaInfo,
  ks: { keyspace: string; shards: string[] },
): DmlPlan {
  const vindex = requireVindex(routing, 'DELETE');
  const alias = ast.from.alias ?? ast.from.name;
  const choice = chooseRoute(new Scope([{ alias, routing }], schema), ast.where, [], source);
  const base: RouteBase = { ...ks, target: choice.target };
  if (!routing.lookups.length) return { kind: choice.kind, root: passThrough(base, source) };

  const keys = keyColumns(
    routing,
    alias,
    routing.lookups.map((l) => l.column),
  );
  const del = compactParams(renderStatement({ ...ast, returning: [...(ast.returning ?? []), ...keys] }, source));
  const root: LookupDelete = {
    op: 'LookupDelete',
    input: routeOf(base, del.sql, del.params),
    vindex,
    lookups: routing.lookups,
    returning: !!ast.returning?.length,
  };
  return { kind: choice.kind, root };
}
