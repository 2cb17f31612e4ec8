/**
 * Runs a plan. Everything it does to shards and to global sequences goes through one narrow
 * interface, `ShardCursor`, so the same executor drives DO stubs in VTGate and in-process engines
 * in tests. Lookup vindexes (router/engine/lookup.ts) and drawing ids (router/engine/generate.ts)
 * have files of their own.
 */
import { ResultBudget } from '../../engines/limits.js';
import { chunkByParams } from '../../engines/dialect/sql-text.js';
import { VitessError } from '../../rpc/errors.js';
import type { ResultSet, Row } from '../../rpc/results.js';
import type { Field, SqlValue } from '../../rpc/values.js';
import { shardFor, type KeyspaceId } from '../../rpc/keyspace/keyrange.js';
import { keyspaceIdFor } from '../vindex/vindex.js';
import type { LookupSpec } from '../vschema.js';
import { explainLines } from '../planner/explain.js';
import { generate } from './generate.js';
import { LookupVindex, returnedEntries } from './lookup.js';
import { aggregateRows, distinctRows, limitRows, mergeSorted, sortRows } from './merge.js';
import { runSubquery } from './subquery.js';
import { inValuesOrder } from './values-order.js';
import { HIDDEN, type Insert, type LookupDelete, type LookupUpdate, type Plan, type Primitive, type Route, type ValueSource } from '../planner/plan.js';
import { mapParams } from '../planner/sql.js';

export interface ShardCursor {
  /** Runs one statement on one shard's primary. */
  execute(keyspace: string, shard: string, sql: string, params: SqlValue[]): Promise<ResultSet>;
  /**
   * `count` ids of global sequence `sequence` of `keyspace`, ascending, none handed out before.
   * Only plans with a `Generate` (INSERTs filling sequence columns) call it; a cursor without it
   * refuses them.
   */
  drawIds?(keyspace: string, sequence: string, count: number): Promise<number[]>;
}

/** A plan's result: a one-row INSERT that drew ids from a global sequence reports the first. */
export interface Executed extends ResultSet {
  lastInsertId?: number;
}

export async function execute(plan: Plan, params: SqlValue[], cursor: ShardCursor): Promise<Executed> {
  return new Execution(params, gathering(cursor)).run(plan.root);
}

/**
 * `cursor`, with every shard's answer counted against one result's limits: a statement fails
 * before VTGate holds more rows than one result may have, however many shards answer. Merges
 * (sort, DISTINCT, LIMIT, aggregates) only shrink what was gathered, so they need no count of their own.
 */
function gathering(cursor: ShardCursor): ShardCursor {
  const budget = new ResultBudget('the rows gathered from the shards');
  return {
    execute: async (keyspace, shard, sql, params) => budget.add(await cursor.execute(keyspace, shard, sql, params)),
    ...(cursor.drawIds && { drawIds: cursor.drawIds.bind(cursor) }),
  };
}

interface ShardResult {
  shard: string;
  result: ResultSet;
}

/** Concatenates shard results: rows in shard order, affected rows summed. */
function concat(results: ResultSet[]): ResultSet {
  return {
    rows: results.flatMap((r) => r.rows),
    fields: results.find((r) => r.fields.length)?.fields ?? [],
    affected: results.reduce((n, r) => n + r.affected, 0),
  };
}

const withoutHidden = (r: ResultSet, keepRows: boolean): ResultSet => ({
  rows: keepRows ? r.rows.map((row) => Object.fromEntries(Object.entries(row).filter(([k]) => !k.startsWith(HIDDEN))) as Row) : [],
  fields: keepRows ? r.fields.filter((f) => !f.name.startsWith(HIDDEN)) : [],
  affected: r.affected,
});

class Execution {
  constructor(
    private readonly params: SqlValue[],
    private readonly cursor: ShardCursor,
  ) {}

  value(src: ValueSource): SqlValue {
    if ('literal' in src) return src.literal;
    if ('param' in src) {
      if (src.param >= this.params.length) throw new VitessError('INVALID', `no value bound for parameter $${src.param + 1}`);
      return this.params[src.param]!;
    }
    // LIMIT + OFFSET: NULL (no limit) stays NULL.
    const parts = src.sum.map((s) => this.value(s));
    if (parts[0] === null) return null;
    return parts.reduce<number>((a, v) => a + (v === null ? 0 : Number(v)), 0);
  }

  async run(p: Primitive): Promise<Executed> {
    switch (p.op) {
      case 'Route': {
        const results = await this.route(p);
        return p.copies ? results[0]!.result : concat(results.map((r) => r.result));
      }
      case 'MergeSort': {
        const results = (await this.route(p.input)).map((r) => r.result);
        const all = concat(results);
        return {
          ...all,
          rows: mergeSorted(
            results.map((r) => r.rows),
            p.keys,
            all.fields,
          ),
        };
      }
      case 'Sort': {
        const r = await this.run(p.input);
        return { ...r, rows: sortRows(r.rows, p.keys, r.fields) };
      }
      case 'Aggregate': {
        const r = await this.run(p.input);
        return { ...aggregateRows(r, p, (e) => this.value(e.value)), affected: 0 };
      }
      case 'Distinct': {
        const r = await this.run(p.input);
        return { ...r, rows: distinctRows(r.rows, r.fields, p.ignore, p.columns) };
      }
      case 'Limit': {
        const r = await this.run(p.input);
        return { ...r, rows: limitRows(r.rows, p.count && this.value(p.count), p.offset && this.value(p.offset)) };
      }
      case 'Project': {
        const r = await this.run(p.input);
        const keep = (name: string) => !p.drop.includes(name);
        return {
          ...r,
          rows: r.rows.map((row) => Object.fromEntries(Object.entries(row).filter(([k]) => keep(k))) as Row),
          fields: r.fields.filter((f) => keep(f.name)),
        };
      }
      case 'Sequence': {
        // No steps: the statement touches no shard (CREATE SEQUENCE).
        if (!p.steps.length) return { rows: [], fields: [], affected: 0 };
        const first = await this.run(p.steps[0]!);
        for (const s of p.steps.slice(1)) await this.run(s);
        return first;
      }
      case 'Insert':
        return this.insert(p);
      case 'Generate':
        return generate(p, this.params, this.cursor, (input, params) => new Execution(params, this.cursor).run(input));
      case 'Subquery':
        return runSubquery(p, (x) => this.run(x));
      case 'LookupDelete':
        return this.lookupDelete(p);
      case 'LookupUpdate':
        return this.lookupUpdate(p);
      case 'Explain': {
        const fields: Field[] = [{ name: 'QUERY PLAN', type: 'text' }];
        return { rows: explainLines(p.plan).map((line) => ({ 'QUERY PLAN': line })), fields, affected: 0 };
      }
    }
  }

  /** The shards a route reaches, in key order. */
  private async shardsOf(route: Route): Promise<string[]> {
    const t = route.target;
    if (t.type === 'all') return route.shards;
    if (t.type === 'any') return route.shards.slice(0, 1);
    const ids =
      t.type === 'vindex'
        ? t.values.map((v) => keyspaceIdFor(t.vindex, this.value(v))).filter((id): id is KeyspaceId => id !== undefined)
        : await this.lookup(route.keyspace, route.shards, t.lookup).map(t.values.map((v) => this.value(v)));
    const hit = new Set(ids.map((id) => shardFor(id, route.shards)));
    // No value maps to a shard (NULL, no lookup entry): no row can match; one shard answers
    // with the right columns (and the one row an aggregate returns over nothing).
    return hit.size ? route.shards.filter((s) => hit.has(s)) : route.shards.slice(0, 1);
  }

  private async route(route: Route): Promise<ShardResult[]> {
    const shards = await this.shardsOf(route);
    const params = route.params.map((p) => this.value(p));
    return Promise.all(shards.map(async (shard) => ({ shard, result: await this.cursor.execute(route.keyspace, shard, route.sql, params) })));
  }

  /** The lookup vindex `lookup` of a table in `keyspace`, over its shards. */
  private lookup(keyspace: string, shards: string[], lookup: LookupSpec): LookupVindex {
    return new LookupVindex(this.cursor, keyspace, shards, lookup);
  }

  // ---- writes --------------------------------------------------------------------------

  private async insert(p: Insert): Promise<ResultSet> {
    const rows = p.rows.map((row, n) => {
      const key = this.value(row.key);
      const id = keyspaceIdFor(p.vindex, key);
      if (id === undefined) {
        throw new VitessError(
          'INVALID',
          key === null
            ? `row ${n + 1} of the INSERT into "${p.table}": the vindex column "${p.vindex.column}" is NULL; a sharded row needs a value to be placed`
            : `row ${n + 1} of the INSERT into "${p.table}": ${String(key)} is in no range of the vindex on "${p.vindex.column}"`,
          { table: p.table, columns: [p.vindex.column] },
        );
      }
      return { row, id, key, position: n, shard: shardFor(id, p.shards) };
    });
    // Lookup entries first: if the insert then fails, an entry points at a row that is not
    // there (a query finds nothing), never a row without its entry.
    await Promise.all(p.lookups.map((l, i) => this.lookup(p.keyspace, p.shards, l).create(rows.map((r) => [this.value(r.row.lookups[i]!), r.id]))));

    const tailParams = p.tailParams.map((s) => this.value(s));
    const statements = p.shards.flatMap((shard) =>
      chunkByParams(
        rows.filter((r) => r.shard === shard),
        (r) => r.row.params.length,
        tailParams.length,
      ).map((part) => {
        let offset = 0;
        const params: SqlValue[] = [];
        const tuples = part.map(({ row }) => {
          const sql = mapParams(row.sql, (n) => n + offset);
          offset += row.params.length;
          params.push(...row.params.map((s) => this.value(s)));
          return sql;
        });
        params.push(...tailParams);
        return { shard, part, sql: `${p.head}${tuples.join(', ')}${mapParams(p.tail, (n) => n + offset)}`, params };
      }),
    );
    const results = await Promise.all(statements.map((s) => this.cursor.execute(p.keyspace, s.shard, s.sql, s.params)));
    // RETURNING rows in VALUES order, as one database gives them (values-order.ts).
    return inValuesOrder(
      statements.map((s, i) => ({ positions: s.part.map((r) => r.position), keys: s.part.map((r) => r.key), result: results[i]! })),
      p.vindex.column,
    );
  }

  private async lookupDelete(p: LookupDelete): Promise<ResultSet> {
    const r = concat((await this.route(p.input)).map((x) => x.result));
    const { keyspace, shards } = p.input;
    await Promise.all(p.lookups.map((l, i) => this.lookup(keyspace, shards, l).delete(returnedEntries(r.rows, p.vindex, i))));
    return withoutHidden(r, p.returning);
  }

  private async lookupUpdate(p: LookupUpdate): Promise<ResultSet> {
    const before = concat((await this.route(p.before)).map((x) => x.result));
    const after = concat((await this.route(p.input)).map((x) => x.result));
    const { keyspace, shards } = p.input;
    await Promise.all(
      p.lookups.map((l, i) => this.lookup(keyspace, shards, l).update(returnedEntries(before.rows, p.vindex, i), returnedEntries(after.rows, p.vindex, i))),
    );
    return withoutHidden(after, p.returning);
  }
}
