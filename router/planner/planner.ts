/**
 * The planner: SQL text + vschema + what is known of the schema → a plan (data). Pure: it
 * reads no shard. `Planner` adds the cache (one plan per keyspace and statement text) and
 * learns the schema from the DDL it ran.
 */
import type { SelectFromStatement, Statement } from 'pgsql-ast-parser';
import { parseOne } from '../../engines/dialect/parse.js';
import { checkStatementSize } from '../../engines/limits.js';
import { VitessError } from '../../rpc/errors.js';
import type { ResultSet } from '../../rpc/results.js';
import type { SqlValue } from '../../rpc/values.js';
import { DEFAULT_VSCHEMA, keyspaceOf, type KeyspaceVSchema, type VSchema } from '../vschema.js';
import { groupExprs, hasWindow, isAggregated, planAggregate } from './aggregate.js';
import { planDdl } from './ddl.js';
import { planDelete, planUpdate } from './dml.js';
import { execute, type ShardCursor } from '../engine/executor.js';
import { planShardedInsert } from './insert.js';
import type { Plan, PlanKind, Primitive, Route } from './plan.js';
import { chooseRoute, Scope, tableRouting, type TableRouting } from './route.js';
import { MemorySchema, type SchemaInfo, type TableInfo } from './schema.js';
import { passThrough, planMergedSelect, type RouteBase } from './select.js';
import { drawSequences } from './sequences.js';
import { planSubqueries } from './subquery.js';
import { isSubquery } from './sql.js';
import { tablesIn, walk } from '../../engines/dialect/ast.js';

export interface PlanContext {
  vschema: VSchema;
  /** The keyspace the statement runs in (the session's). */
  keyspace: string;
  schema: SchemaInfo;
}

const DDL = new Set(['create table', 'drop table', 'alter table', 'create index', 'drop index', 'create sequence']);
const QUERIES = new Set(['select', 'union', 'union all', 'values', 'with', 'with recursive']);

const refused = (construct: string, why: string, table?: string) =>
  new VitessError('UNSUPPORTED', `${construct} ${why}`, { construct, ...(table && { table }) });

export function planQuery(sql: string, ctx: PlanContext): Plan {
  checkStatementSize(sql);
  const explain = /^\s*explain\s+/i.exec(sql);
  if (explain) {
    // Blank out the keyword so positions in errors still point into the text as sent.
    const inner = planQuery(' '.repeat(explain[0].length) + sql.slice(explain[0].length), ctx);
    return { kind: inner.kind, statement: 'explain', keyspace: inner.keyspace, root: { op: 'Explain', plan: inner }, tables: inner.tables };
  }
  const ks = keyspaceOf(ctx.vschema, ctx.keyspace);
  const { ast, source } = parseOne(sql);
  const type = ast.type;
  if (!QUERIES.has(type) && !DDL.has(type) && type !== 'insert' && type !== 'update' && type !== 'delete') {
    throw refused(
      type.toUpperCase(),
      'statements are not supported by VTGate (supported: SELECT, INSERT, UPDATE, DELETE, CREATE/ALTER/DROP TABLE, CREATE/DROP INDEX, CREATE SEQUENCE in sharded keyspaces, EXPLAIN)',
    );
  }
  const plan = (kind: PlanKind, statement: Plan['statement'], root: Primitive, tables: string[]): Plan => ({
    kind,
    statement,
    keyspace: ks.name,
    root,
    tables,
  });

  if (DDL.has(type)) {
    const d = planDdl(ast, source, ks, ctx.schema);
    return {
      ...plan(ks.shards.length === 1 ? 'unsharded' : 'ddl', 'ddl', d.root, d.tables),
      ...(d.schemaChange && { schemaChange: d.schemaChange }),
      ...(d.sequences && { sequences: d.sequences }),
    };
  }
  const statement = QUERIES.has(type) ? 'select' : (type as 'insert' | 'update' | 'delete');
  const tables = tablesIn(ast);
  const base = (target: Route['target']): RouteBase => ({ keyspace: ks.name, shards: ks.shards, target });
  // One shard: nothing to route or merge; the statement goes there as written.
  if (ks.shards.length === 1) return plan('unsharded', statement, passThrough(base({ type: 'any' }), source), tables);

  if (ast.type === 'insert') {
    // Ids from global sequences become parameters first: the row is then routed by them.
    const drawn = drawSequences(ast, source, ctx.schema);
    if (drawn) {
      const inner = planQuery(drawn.sql, ctx);
      return { ...inner, root: { op: 'Generate', keyspace: ks.name, draw: drawn.draw, input: inner.root } };
    }
  }
  const routing = (t: string) => tableRouting(ks, ctx.schema, t);
  // Uncorrelated subqueries over sharded tables in WHERE run first; their results become parameters.
  const pulled = planSubqueries(ast, source, routing, ctx.schema, (text) => planQuery(text, ctx));
  if (pulled) return pulled;
  switch (ast.type) {
    case 'insert':
    case 'update':
    case 'delete': {
      refuseShardedSubqueries(ast, routing);
      const name = ast.type === 'insert' ? ast.into.name : ast.type === 'update' ? ast.table.name : ast.from.name;
      const r = routing(name);
      const joined = tables.filter((t) => t !== name && routing(t).kind === 'sharded');
      if (ast.type === 'update' && ast.from && joined.length) {
        throw refused(`UPDATE … FROM sharded table ${joined[0]}`, 'is not supported: the rows it joins live on every shard', joined[0]);
      }
      if (r.kind === 'reference') {
        // Every shard holds a copy: writes reach all of them (atomically only inside a transaction).
        return plan('reference', statement, { ...passThrough(base({ type: 'all' }), source), copies: true }, tables);
      }
      if (!r.known && ast.type === 'insert') {
        throw new VitessError(
          'NOT_FOUND',
          `table "${name}" is unknown to VTGate: it is not in the vschema of keyspace "${ks.name}", and no CREATE TABLE for it ran through VTGate (its primary key decides its shard)`,
          { table: name },
        );
      }
      const shards = { keyspace: ks.name, shards: ks.shards };
      if (ast.type === 'insert') {
        const insert = planShardedInsert(ast, source, r, ctx.schema, shards);
        return plan(insert.rows.length === 1 ? 'single-shard' : 'multi-shard', 'insert', insert, [...tables, ...r.lookups.map((l) => l.table)]);
      }
      const d = ast.type === 'update' ? planUpdate(ast, source, r, ctx.schema, shards) : planDelete(ast, source, r, ctx.schema, shards);
      return plan(d.kind, statement, d.root, [...tables, ...r.lookups.map((l) => l.table)]);
    }
    default: {
      const sharded = tables.filter((t) => routing(t).kind === 'sharded');
      if (!sharded.length) return plan('reference', 'select', passThrough(base({ type: 'any' }), source), tables);
      if (ast.type !== 'select') {
        const what = ast.type === 'values' ? 'VALUES' : ast.type.startsWith('with') ? 'WITH' : 'UNION';
        throw refused(
          `${what} over sharded tables (${sharded.join(', ')})`,
          'is not supported across shards: query the tables without it, or make them reference tables',
        );
      }
      refuseShardedSubqueries(ast, routing);
      const { kind, root } = planSelect(ast as SelectFromStatement, source, ks, ctx.schema, routing);
      return plan(kind, 'select', root, tables);
    }
  }
}

function planSelect(
  ast: SelectFromStatement,
  source: string,
  ks: KeyspaceVSchema,
  schema: SchemaInfo,
  routing: (t: string) => TableRouting,
): { kind: PlanKind; root: Primitive } {
  const from = ast.from ?? [];
  const scope = new Scope(
    from.flatMap((f) => (f.type === 'table' ? [{ alias: f.name.alias ?? f.name.name, routing: routing(f.name.name) }] : [])),
    schema,
  );
  const choice = chooseRoute(scope, ast.where, from, source);
  const base: RouteBase = { keyspace: ks.name, shards: ks.shards, target: choice.target };
  if (choice.kind === 'single-shard') return { kind: choice.kind, root: passThrough(base, source) };
  if (hasWindow(ast))
    throw refused('window functions', 'are not supported across shards: a window spans rows of every shard; filter on the sharding column to reach one shard');
  if (isAggregated(ast)) {
    const groups = groupExprs(ast, (name) => scope.hasColumn(name));
    try {
      // VTGate combines partials exactly (AVG as Postgres computes it, whatever the engine).
      return { kind: choice.kind === 'scatter' ? 'scatter-aggregate' : choice.kind, root: planAggregate(ast, source, base, groups) };
    } catch (e) {
      // What it cannot combine still runs when grouped by the sharding column: every group
      // then lives on one shard, and the shards aggregate alone.
      if (!(e instanceof VitessError && e.code === 'UNSUPPORTED') || !groups.some((g) => choice.onVindex(g))) throw e;
    }
  }
  return { kind: choice.kind, root: planMergedSelect(ast, source, base) };
}

/**
 * A subquery over a sharded table outside WHERE (select list, FROM, HAVING, SET, INSERT … SELECT)
 * would see one shard's rows only: refused (top-level FROM aside). Those in WHERE ran first (subquery.ts).
 */
function refuseShardedSubqueries(ast: Statement, routing: (t: string) => TableRouting): void {
  const top = ast.type === 'select' ? ast : undefined;
  walk(ast, (n) => {
    if (n === (top as unknown) || !isSubquery(n) || n === (ast as unknown)) return;
    const sharded = tablesIn(n).filter((t) => routing(t).kind === 'sharded');
    if (sharded.length) {
      throw refused(
        `a subquery over sharded table ${sharded[0]}`,
        'is not supported here: its rows live on every shard, so no one shard can answer it, and only uncorrelated subqueries in WHERE run first across shards. Join on the sharding column instead, move it into WHERE, or run the subquery separately',
        sharded[0],
      );
    }
    return false;
  });
}

/** Plans with a cache, and the schema learned from the DDL that ran. */
export class Planner {
  private readonly cache = new Map<string, Plan>();

  constructor(
    readonly vschema: VSchema = DEFAULT_VSCHEMA,
    readonly schema: MemorySchema = new MemorySchema(),
    private readonly cacheSize = 1000,
  ) {}

  /** The plan for a statement: cached per keyspace and statement text (parameters are bound at execution). */
  plan(sql: string, keyspace: string): Plan {
    const key = `${keyspace}\n${sql}`;
    const hit = this.cache.get(key);
    if (hit) {
      this.cache.delete(key); // most recently used last
      this.cache.set(key, hit);
      return hit;
    }
    const plan = planQuery(sql, { vschema: this.vschema, keyspace, schema: this.schema });
    if (plan.statement !== 'ddl') {
      this.cache.set(key, plan);
      if (this.cache.size > this.cacheSize) this.cache.delete(this.cache.keys().next().value!);
    }
    return plan;
  }

  /** Call after a plan ran: a schema change is learned, and plans made before it are dropped. */
  applied(plan: Plan): void {
    if (!plan.schemaChange) return;
    this.schema.apply(plan.schemaChange);
    this.cache.clear();
  }

  /** Replaces what is known of the schema (read from a shard's catalog) and drops cached plans. */
  learn(tables: Record<string, TableInfo>): void {
    this.schema.reset(tables);
    this.cache.clear();
  }

  /** Plan, execute, learn. */
  async run(sql: string, params: SqlValue[], keyspace: string, cursor: ShardCursor): Promise<ResultSet> {
    const plan = this.plan(sql, keyspace);
    const result = await execute(plan, params, cursor);
    this.applied(plan);
    return result;
  }
}
