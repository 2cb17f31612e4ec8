/**
 * Runs a plan. Everything it does to shards goes through one narrow interface, `ShardCursor`,
 * so the same executor drives DO stubs in VTGate and in-process engines in tests.
 */
import { ResultBudget } from '../../engines/limits.js';
import { chunkByParams, chunkRows, insertValues, placeholders } from '../../engines/dialect/sql-text.js';
import { VitessError } from '../../rpc/errors.js';
import type { ResultSet, Row } from '../../rpc/results.js';
import type { Field, SqlValue } from '../../rpc/values.js';
import { shardFor, type KeyspaceId } from '../../rpc/keyspace/keyrange.js';
import { hashId } from '../../rpc/keyspace/hash.js';
import { keyspaceIdFor } from '../vindex/vindex.js';
import type { LookupSpec } from '../vschema.js';
import { KEY_COLUMN, lookupColumn } from '../planner/dml.js';
import { explainLines } from '../planner/explain.js';
import { aggregateRows, distinctRows, limitRows, mergeSorted, sortRows } from './merge.js';
import { HIDDEN, type Insert, type LookupDelete, type LookupUpdate, type Plan, type Primitive, type Route, type ValueSource } from '../planner/plan.js';
import { mapParams } from '../planner/sql.js';

export interface ShardCursor {
  /** Runs one statement on one shard's primary. */
  execute(keyspace: string, shard: string, sql: string, params: SqlValue[]): Promise<ResultSet>;
}

/** A change to the number of rows behind one lookup entry. */
interface LookupDelta {
  value: SqlValue;
  keyspaceId: KeyspaceId;
  refs: number;
}

const deltaKey = (d: LookupDelta): string => `${d.keyspaceId}:${hashId(d.value)}:${String(d.value)}`;

/** Sums deltas of the same entry, dropping those that cancel out. */
function netDeltas(deltas: LookupDelta[]): LookupDelta[] {
  const out = new Map<string, LookupDelta>();
  for (const d of deltas) {
    const k = deltaKey(d);
    const cur = out.get(k);
    out.set(k, cur ? { ...cur, refs: cur.refs + d.refs } : { ...d });
  }
  return [...out.values()].filter((d) => d.refs !== 0);
}

/** One delta of `sign` per (value, keyspace id) pair, summed; NULL values and rows without a keyspace id have no entry. */
function lookupDeltas(pairs: [SqlValue, KeyspaceId | undefined][], sign: 1 | -1): LookupDelta[] {
  return netDeltas(pairs.flatMap(([value, keyspaceId]) => (value === null || keyspaceId === undefined ? [] : [{ value, keyspaceId, refs: sign }])));
}

export async function execute(plan: Plan, params: SqlValue[], cursor: ShardCursor): Promise<ResultSet> {
  return new Execution(params, gathering(cursor)).run(plan.root);
}

/**
 * `cursor`, with every shard's answer counted against one result's limits: a statement fails
 * before VTGate holds more rows than one result may have, however many shards answer. Merges
 * (sort, DISTINCT, LIMIT, aggregates) only shrink what was gathered, so they need no count of their own.
 */
function gathering(cursor: ShardCursor): ShardCursor {
  const budget = new ResultBudget('the rows gathered from the shards');
  return { execute: async (keyspace, shard, sql, params) => budget.add(await cursor.execute(keyspace, shard, sql, params)) };
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

  async run(p: Primitive): Promise<ResultSet> {
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
        : await this.lookupIds(
            route,
            t.lookup,
            t.values.map((v) => this.value(v)),
          );
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

  // ---- lookup tables -----------------------------------------------------------------

  /** Keyspace ids of `values` from the lookup table, which is sharded by hash of its value. */
  private async lookupIds(route: { keyspace: string; shards: string[] }, lookup: LookupSpec, values: SqlValue[]): Promise<KeyspaceId[]> {
    const byShard = this.byLookupShard(
      route.shards,
      values.filter((v) => v !== null),
      (v) => v,
    );
    const found = await Promise.all(
      [...byShard].flatMap(([shard, vs]) =>
        chunkRows(vs, 1).map(async (part) => {
          const where = part.length === 1 ? 'value = $1' : `value IN (${placeholders(part.length)})`;
          const r = await this.cursor.execute(route.keyspace, shard, `SELECT keyspace_id FROM ${lookup.table} WHERE (${where}) AND refs > 0`, part);
          return r.rows.map((row) => String(row.keyspace_id));
        }),
      ),
    );
    return found.flat();
  }

  private byLookupShard<T>(shards: string[], items: T[], valueOfItem: (t: T) => SqlValue): Map<string, T[]> {
    const out = new Map<string, T[]>();
    for (const it of items) {
      const shard = shardFor(hashId(valueOfItem(it))!, shards);
      out.set(shard, [...(out.get(shard) ?? []), it]);
    }
    return out;
  }

  /**
   * Moves lookup entries' row counts by `deltas`. An entry (value, keyspace id) counts the rows
   * behind it: a `range` vindex gives every row of a shard the same keyspace id, so one entry can
   * stand for many rows, and a row leaving must not take the others' entry with it. Entries at
   * zero are deleted; reads skip them (`refs > 0`) in case that delete did not run. Additions go
   * first, so a row is never without its entry.
   */
  private async writeLookups(keyspace: string, shards: string[], table: string, deltas: LookupDelta[]): Promise<void> {
    const run = (ds: LookupDelta[], write: (shard: string, part: LookupDelta[]) => Promise<unknown>) =>
      Promise.all([...this.byLookupShard(shards, ds, (d) => d.value)].flatMap(([shard, es]) => chunkRows(es, 3).map((part) => write(shard, part))));
    const match = (i: number, width: number) => `(value = $${width * i + 1} AND keyspace_id = $${width * i + 2})`;
    await run(
      deltas.filter((d) => d.refs > 0),
      (shard, part) => {
        // The lookup table's name as the vschema spells it (unquoted), as in the statements below.
        const { sql, params } = insertValues(
          table,
          ['value', 'keyspace_id', 'refs'],
          part.map((d) => [d.value, d.keyspaceId, d.refs]),
          `ON CONFLICT (value, keyspace_id) DO UPDATE SET refs = ${table}.refs + EXCLUDED.refs`,
          (name) => name,
        );
        return this.cursor.execute(keyspace, shard, sql, params);
      },
    );
    await run(
      deltas.filter((d) => d.refs < 0),
      async (shard, part) => {
        await this.cursor.execute(
          keyspace,
          shard,
          `UPDATE ${table} SET refs = refs - CASE ${part.map((_, i) => `WHEN ${match(i, 3)} THEN $${3 * i + 3}`).join(' ')} ELSE 0 END WHERE ${part.map((_, i) => match(i, 3)).join(' OR ')}`,
          part.flatMap((d) => [d.value, d.keyspaceId, -d.refs]),
        );
        await this.cursor.execute(
          keyspace,
          shard,
          `DELETE FROM ${table} WHERE refs <= 0 AND (${part.map((_, i) => match(i, 2)).join(' OR ')})`,
          part.flatMap((d) => [d.value, d.keyspaceId]),
        );
      },
    );
  }

  /** Lookup entries of `rows` (helper columns of lookup `i`), counted: rows without a value or a keyspace id have none. */
  private entries(rows: Row[], vindex: Insert['vindex'], i: number, sign: 1 | -1): LookupDelta[] {
    return lookupDeltas(
      rows.map((r) => [r[lookupColumn(i)] ?? null, keyspaceIdFor(vindex, r[KEY_COLUMN] ?? null)]),
      sign,
    );
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
      return { row, id, shard: shardFor(id, p.shards) };
    });
    // Lookup entries first: if the insert then fails, an entry points at a row that is not
    // there (a query finds nothing), never a row without its entry.
    await Promise.all(
      p.lookups.map((l, i) =>
        this.writeLookups(
          p.keyspace,
          p.shards,
          l.table,
          lookupDeltas(
            rows.map((r) => [this.value(r.row.lookups[i]!), r.id]),
            1,
          ),
        ),
      ),
    );

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
        return { shard, sql: `${p.head}${tuples.join(', ')}${mapParams(p.tail, (n) => n + offset)}`, params };
      }),
    );
    const results = await Promise.all(statements.map((s) => this.cursor.execute(p.keyspace, s.shard, s.sql, s.params)));
    return concat(results);
  }

  private async lookupDelete(p: LookupDelete): Promise<ResultSet> {
    const r = concat((await this.route(p.input)).map((x) => x.result));
    await Promise.all(p.lookups.map((l, i) => this.writeLookups(p.input.keyspace, p.input.shards, l.table, this.entries(r.rows, p.vindex, i, -1))));
    return withoutHidden(r, p.returning);
  }

  private async lookupUpdate(p: LookupUpdate): Promise<ResultSet> {
    const before = concat((await this.route(p.before)).map((x) => x.result));
    const after = concat((await this.route(p.input)).map((x) => x.result));
    await Promise.all(
      p.lookups.map((l, i) =>
        this.writeLookups(
          p.input.keyspace,
          p.input.shards,
          l.table,
          netDeltas([...this.entries(after.rows, p.vindex, i, 1), ...this.entries(before.rows, p.vindex, i, -1)]),
        ),
      ),
    );
    return withoutHidden(after, p.returning);
  }
}
