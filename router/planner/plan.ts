/**
 * Plans are data: a tree of primitives in the style of Vitess's `vtgate/engine`, built by the
 * pure planner and run by the executor. A plan depends only on the SQL text, the vschema and
 * what is known of the schema; parameter values are looked up when it runs, so one plan serves
 * every execution of the same statement.
 */
import type { SqlValue } from '../../rpc/values.js';
import type { LookupSpec, VindexSpec } from '../vschema.js';
import type { SequenceDefinition, SequenceDraw } from './sequences.js';

export type PlanKind =
  | 'single-shard' // one vindex value: one shard
  | 'multi-shard' // IN on the vindex, or a multi-row INSERT: the shards of those values
  | 'scatter' // every shard, results merged
  | 'scatter-aggregate' // every shard computes partial aggregates, VTGate combines them
  | 'lookup' // a lookup table names the keyspace ids first
  | 'unsharded' // a keyspace with one shard: the statement goes there as written
  | 'reference' // only reference tables: any one shard for reads, every shard for writes
  | 'ddl'; // every shard of the keyspace

/** Where a value comes from when the plan runs. */
export type ValueSource =
  | { param: number } // 0-based index into the statement's parameters
  | { literal: SqlValue } // a literal written in the SQL text
  | { sum: ValueSource[] }; // LIMIT + OFFSET pushed down to shards

/** Which shards a Route reaches. */
export type Target =
  | { type: 'all' }
  /** One shard, any: reads of reference tables, the only shard of an unsharded keyspace. */
  | { type: 'any' }
  /** The shards of these vindex values (`=` or `IN`); none maps to a shard → the first shard. */
  | { type: 'vindex'; vindex: VindexSpec; values: ValueSource[] }
  /** Keyspace ids read from a lookup table (itself sharded by `hash` of its value). */
  | { type: 'lookup'; lookup: LookupSpec; values: ValueSource[] };

/** A statement sent to shards; results are concatenated in shard order. */
export interface Route {
  op: 'Route';
  keyspace: string;
  /** The keyspace's shards, in key order. */
  shards: string[];
  target: Target;
  /** Postgres dialect, `$1…$n` bound from `params`. */
  sql: string;
  params: ValueSource[];
  /** A write to a reference table: every shard holds a copy; the result is the first copy's. */
  copies?: boolean;
}

/** A row of a split INSERT: its tuple with `$1…$k` local to the row. */
export interface InsertRow {
  sql: string;
  params: ValueSource[];
  /** The vindex column's value. */
  key: ValueSource;
  /** Values of the lookup columns, in `Insert.lookups` order. */
  lookups: ValueSource[];
}

/** A multi-row INSERT split by row: each shard gets its rows, chunked under the parameter limit. */
export interface Insert {
  op: 'Insert';
  keyspace: string;
  shards: string[];
  table: string;
  vindex: VindexSpec;
  /** `INSERT INTO t (a, b) VALUES ` … ` ON CONFLICT … RETURNING …` (its own `$1…` after the rows'). */
  head: string;
  tail: string;
  tailParams: ValueSource[];
  rows: InsertRow[];
  lookups: LookupSpec[];
}

/** A DELETE whose rows have lookup entries: deletes them after, from the rows it returns. */
export interface LookupDelete {
  op: 'LookupDelete';
  /** The DELETE, returning the vindex column as `__vt_k` and lookup column i as `__vt_l<i>`. */
  input: Route;
  vindex: VindexSpec;
  lookups: LookupSpec[];
  /** Whether the statement had its own RETURNING (else rows are dropped). */
  returning: boolean;
}

/** An UPDATE of lookup columns: reads the old values, updates, then moves the lookup entries. */
export interface LookupUpdate {
  op: 'LookupUpdate';
  /** SELECT of `__vt_k`, `__vt_l<i>` with the UPDATE's WHERE, on the same shards. */
  before: Route;
  /** The UPDATE, returning `__vt_k`, `__vt_l<i>` as they are after it. */
  input: Route;
  vindex: VindexSpec;
  lookups: LookupSpec[];
  returning: boolean;
}

export interface SortKey {
  /** A column of the input rows. */
  column: string;
  desc: boolean;
  /** Postgres: NULLs sort as larger than any value (last ascending, first descending). */
  nullsFirst: boolean;
}

/** Merges shard results that each shard already sorted by `keys`. */
export interface MergeSort {
  op: 'MergeSort';
  input: Route;
  keys: SortKey[];
}

/** Sorts rows VTGate computed (after Aggregate). */
export interface Sort {
  op: 'Sort';
  input: Primitive;
  keys: SortKey[];
}

export type AggregateFn = 'first' | 'count' | 'sum' | 'min' | 'max' | 'avg' | 'bool_and' | 'bool_or';

export interface AggregateColumn {
  /** Output column name. */
  name: string;
  fn: AggregateFn;
  /** Input columns: one partial, or [sum, count] for avg. `first` takes any row's value. */
  args: string[];
  /**
   * count, sum or avg of DISTINCT values: `args[0]` holds the values themselves (the shards group
   * by them), and each distinct non-NULL value of a group counts once, whichever shards sent it.
   */
  distinct?: boolean;
}

/** Combines per-shard partial aggregates grouped by `groupBy`; filters groups by `having`. */
export interface Aggregate {
  op: 'Aggregate';
  input: Primitive;
  groupBy: string[];
  columns: AggregateColumn[];
  having?: Expr;
}

/**
 * Keeps the first row of each set of equal rows, compared on `columns` (hidden copies of the
 * select list, which stay apart even when output names repeat), or else on every column but `ignore`.
 */
export interface Distinct {
  op: 'Distinct';
  input: Primitive;
  columns?: string[];
  ignore: string[];
}

export interface Limit {
  op: 'Limit';
  input: Primitive;
  count?: ValueSource;
  offset?: ValueSource;
}

/** Drops helper columns. */
export interface Project {
  op: 'Project';
  input: Primitive;
  drop: string[];
}

/**
 * An INSERT that fills columns from global sequences (Vitess's `Insert.Generate`): draws the ids
 * `draw` names through the cursor, binds them as the parameters after the statement's own, then
 * runs `input` (an `Insert`, or a `Route` to a reference table's copies) with them. A one-row
 * INSERT reports its first id as `lastInsertId`.
 */
export interface Generate {
  op: 'Generate';
  keyspace: string;
  draw: SequenceDraw;
  input: Primitive;
}

/**
 * Uncorrelated subqueries over sharded tables (Vitess's `UncorrelatedSubquery`): each input runs
 * first, as a plan of its own, and its result is bound as a parameter of `outer`, which has
 * `$n` where the subquery was; the executor (router/engine/subquery.ts) writes the values into its routes.
 */
export interface Subquery {
  op: 'Subquery';
  inputs: SubqueryInput[];
  outer: Primitive;
}

export interface SubqueryInput {
  /** `value`: the one column of the one row (NULL without rows); `list`: a column's values (IN); `exists`: whether there is a row. */
  kind: 'value' | 'list' | 'exists';
  /** 0-based parameter the result is bound to. */
  param: number;
  /** `list`: the parameter that says whether the list has values (an empty IN matches nothing, NOT IN everything). */
  present?: number;
  input: Primitive;
}

/** Runs steps in order; the result is the first step's (DDL plus its lookup tables). */
export interface Sequence {
  op: 'Sequence';
  steps: Primitive[];
}

/** EXPLAIN: the plan as rows, no shard is contacted. */
export interface Explain {
  op: 'Explain';
  plan: Plan;
}

export type Primitive =
  | Route
  | Insert
  | Generate
  | LookupDelete
  | LookupUpdate
  | MergeSort
  | Sort
  | Aggregate
  | Distinct
  | Limit
  | Project
  | Subquery
  | Sequence
  | Explain;

/** A HAVING condition, evaluated by VTGate on combined groups. */
export type Expr =
  | { kind: 'column'; name: string }
  | { kind: 'value'; value: ValueSource }
  | { kind: 'and' | 'or'; args: Expr[] }
  | { kind: 'not'; arg: Expr }
  | { kind: 'is null' | 'is not null'; arg: Expr }
  | { kind: 'compare'; op: '=' | '<>' | '<' | '<=' | '>' | '>='; left: Expr; right: Expr };

/** What a DDL statement does to the schema, applied once it ran (see MemorySchema). */
export type SchemaChange =
  | { kind: 'create'; table: string; primaryKey: string[]; columns: { name: string; type: string; sequence?: string }[] }
  | { kind: 'drop'; tables: string[] }
  | {
      kind: 'alter';
      table: string;
      rename?: string;
      addColumns?: { name: string; type: string }[];
      dropColumns?: string[];
      renameColumns?: [string, string][];
    };

export interface Plan {
  kind: PlanKind;
  statement: 'select' | 'insert' | 'update' | 'delete' | 'ddl' | 'explain';
  keyspace: string;
  root: Primitive;
  /** Tables read or written, lookup tables included. */
  tables: string[];
  schemaChange?: SchemaChange;
  /** DDL's global-sequence work around the plan, done by VTGate (router/sequences/sequence.ts); an INSERT's draw is a `Generate`. */
  sequences?: SequenceWork;
}

export interface SequenceWork {
  /** DDL: sequences that must exist before it runs (`DEFAULT nextval(…)`). */
  need?: string[];
  /** CREATE SEQUENCE. */
  define?: SequenceDefinition;
}

/** Helper columns added for VTGate's own use carry this prefix and never reach the client. */
export const HIDDEN = '__vt_';
