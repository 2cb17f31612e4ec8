/**
 * The vschema: which keyspaces exist, how each is split into shards, which engine runs it,
 * where its replicas live, and how each table's rows are placed. JSON in, validated with zod;
 * an error names the bad field's path.
 */
import { z } from 'zod';
import { VitessError } from '../rpc/errors.js';
import { checkCoverage, equalRanges, parseKeyRange, type KeyRange } from '../rpc/keyspace/keyrange.js';

/** Cloudflare location hints, where replica DOs can be placed. */
export const REGIONS = ['wnam', 'enam', 'sam', 'weur', 'eeur', 'apac', 'oc', 'afr', 'me'] as const;
export type Region = (typeof REGIONS)[number];

const ident = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an identifier (letters, digits, _)');
const bound = z.union([z.number(), z.string()]);

const Range = z.strictObject({ from: bound.optional(), to: bound.optional(), shard: z.string() });

const Vindex = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('hash'), column: ident }),
  z.strictObject({ type: z.literal('consistent_hash'), column: ident }),
  z.strictObject({ type: z.literal('range'), column: ident, ranges: z.array(Range).min(1) }),
  // `null` is Vitess's name for a table that is not split: here, a reference table.
  z.strictObject({ type: z.literal('null') }),
]);

const Lookup = z.strictObject({ column: ident, table: ident.optional() });

const Table = z.strictObject({
  type: z.enum(['sharded', 'reference']).optional(),
  vindex: Vindex.optional(),
  lookups: z.array(Lookup).optional(),
  /** Columns with a kind of their own: `yjs`, a bytea column whose writes merge (docs/yjs.md). */
  columns: z.record(ident, z.literal('yjs')).optional(),
});

const Keyspace = z.strictObject({
  name: ident,
  engine: z.enum(['sqlite', 'pglite']),
  shards: z.union([z.array(z.string()).min(1), z.number().int().positive()]),
  regions: z.array(z.enum(REGIONS)).default([]),
  /** The engine of the replicas (default: the keyspace's). */
  replicaEngine: z.enum(['sqlite', 'pglite']).optional(),
  transactionMode: z.enum(['single', 'multi', 'twopc']).default('multi'),
  tables: z.record(ident, Table).default({}),
});

const VSchemaInput = z.strictObject({ keyspaces: z.array(Keyspace).min(1) });

export type VSchemaJson = z.input<typeof VSchemaInput>;

// ---- the validated, normalized form the planner reads ------------------------------------

export type VindexSpec =
  | { type: 'hash'; column: string }
  | { type: 'consistent_hash'; column: string }
  | { type: 'range'; column: string; ranges: RangeSpec[] };

export interface RangeSpec {
  /** Inclusive lower bound (absent: no lower bound); numbers compare as numbers, strings as text. */
  from?: number | string;
  /** Exclusive upper bound (absent: no upper bound). */
  to?: number | string;
  shard: string;
}

/** A secondary vindex: `table(value, keyspace_id)` maps a column's values to keyspace ids. */
export interface LookupSpec {
  column: string;
  table: string;
}

export type TableVSchema = (
  | { type: 'reference' }
  /** `vindex` absent: hash of the table's first primary-key column. */
  | { type: 'sharded'; vindex?: VindexSpec; lookups: LookupSpec[] }
) & {
  /** Yjs columns: a plain UPDATE setting one merges the update into the state (docs/yjs.md). */
  yjs?: string[];
};

export interface KeyspaceVSchema {
  name: string;
  engine: 'sqlite' | 'pglite';
  /** Key-range names in key order; one shard (`-`) = an unsharded keyspace. */
  shards: string[];
  regions: Region[];
  /** The replicas' engine: a PGlite keyspace may be read from SQLite replicas. */
  replicaEngine: 'sqlite' | 'pglite';
  /** How a write outside a transaction that reaches several shards commits (docs/transactions.md). */
  transactionMode: TransactionMode;
  tables: Record<string, TableVSchema>;
}

/**
 * Vitess's choice, for writes outside a transaction that reach more than one shard: `single`
 * refuses them, `multi` commits each shard's part on its own, `twopc` commits them atomically.
 * Writes to reference tables are atomic in every mode: their copies must never diverge.
 */
export type TransactionMode = 'single' | 'multi' | 'twopc';

export interface VSchema {
  keyspaces: KeyspaceVSchema[];
}

/** What `npm start` serves with no configuration. */
export const DEFAULT_VSCHEMA_JSON: VSchemaJson = {
  keyspaces: [
    { name: 'main', engine: 'sqlite', shards: ['-40', '40-80', '80-c0', 'c0-'], regions: ['wnam', 'weur'] },
    { name: 'pg', engine: 'pglite', shards: ['-80', '80-'], regions: ['wnam', 'weur'] },
  ],
};

/** A table's declared Yjs columns, when it has any. */
const yjsOf = (t: { columns?: Record<string, 'yjs'> | undefined }): { yjs?: string[] } => {
  const yjs = Object.keys(t.columns ?? {});
  return yjs.length ? { yjs } : {};
};

/** Validates and normalizes a vschema; throws `INVALID` naming every bad field. */
export function parseVSchema(input: unknown): VSchema {
  const parsed = VSchemaInput.safeParse(input);
  if (!parsed.success)
    fail(
      input,
      parsed.error.issues.map((i) => ({ path: i.path, message: i.message })),
    );
  const issues: Issue[] = [];
  const keyspaces = parsed.data.keyspaces.map((ks, k) => normalizeKeyspace(ks, ['keyspaces', k], issues));
  const seen = new Set<string>();
  keyspaces.forEach((ks, k) => {
    if (seen.has(ks.name)) issues.push({ path: ['keyspaces', k, 'name'], message: `keyspace "${ks.name}" is defined twice` });
    seen.add(ks.name);
  });
  if (issues.length) fail(input, issues);
  return { keyspaces };
}

export const DEFAULT_VSCHEMA: VSchema = parseVSchema(DEFAULT_VSCHEMA_JSON);

export function keyspaceOf(vschema: VSchema, name: string): KeyspaceVSchema {
  const ks = vschema.keyspaces.find((k) => k.name === name);
  if (!ks) {
    throw new VitessError('NOT_FOUND', `keyspace "${name}" does not exist (known: ${vschema.keyspaces.map((k) => k.name).join(', ')})`);
  }
  return ks;
}

/** Default name of a lookup vindex's table. */
export const lookupTableName = (table: string, column: string): string => `${table}_${column}_lookup`;

// ---- normalization and cross-field checks ----------------------------------------------

type Path = PropertyKey[];
interface Issue {
  path: Path;
  message: string;
}

function normalizeKeyspace(ks: z.output<typeof Keyspace>, at: Path, issues: Issue[]): KeyspaceVSchema {
  let shards: string[];
  if (typeof ks.shards === 'number') {
    const n = ks.shards;
    if ((n & (n - 1)) !== 0 || n > 65536) issues.push({ path: [...at, 'shards'], message: `a shard count must be a power of two up to 65536, not ${n}` });
    shards = (n & (n - 1)) === 0 && n <= 65536 ? equalRanges(n) : ['-'];
  } else {
    shards = ks.shards;
    const ranges: KeyRange[] = [];
    shards.forEach((s, i) => {
      const r = parseKeyRange(s);
      if (typeof r === 'string') issues.push({ path: [...at, 'shards', i], message: r });
      else ranges.push(r);
    });
    if (ranges.length === shards.length) {
      const gap = checkCoverage(ranges);
      if (gap) issues.push({ path: [...at, 'shards'], message: gap });
    }
  }
  const tables: Record<string, TableVSchema> = {};
  const lookupTables = new Set<string>();
  for (const [name, t] of Object.entries(ks.tables)) {
    const tAt = [...at, 'tables', name];
    const reference = t.type === 'reference' || t.vindex?.type === 'null';
    if (reference) {
      if (t.vindex && t.vindex.type !== 'null')
        issues.push({ path: [...tAt, 'vindex'], message: 'a reference table is copied to every shard: it takes no vindex' });
      if (t.lookups?.length) issues.push({ path: [...tAt, 'lookups'], message: 'a reference table is copied to every shard: it takes no lookup vindex' });
      tables[name] = { type: 'reference', ...yjsOf(t) };
      continue;
    }
    const vindex = t.vindex as VindexSpec | undefined;
    if (vindex?.type === 'range') {
      vindex.ranges.forEach((r, i) => {
        if (!shards.includes(r.shard))
          issues.push({
            path: [...tAt, 'vindex', 'ranges', i, 'shard'],
            message: `shard "${r.shard}" is not a shard of keyspace "${ks.name}" (${shards.join(', ')})`,
          });
        if (r.from !== undefined && r.to !== undefined && (typeof r.from !== typeof r.to || r.from >= r.to)) {
          issues.push({ path: [...tAt, 'vindex', 'ranges', i], message: '"from" must be below "to", and both of one type (number or string)' });
        }
      });
    }
    const lookups = (t.lookups ?? []).map((l, i) => {
      const table = l.table ?? lookupTableName(name, l.column);
      if (lookupTables.has(table)) issues.push({ path: [...tAt, 'lookups', i, 'table'], message: `lookup table "${table}" is used twice` });
      lookupTables.add(table);
      if (vindex && l.column === vindex.column)
        issues.push({ path: [...tAt, 'lookups', i, 'column'], message: `"${l.column}" is already the table's vindex column` });
      return { column: l.column, table };
    });
    tables[name] = vindex ? { type: 'sharded', vindex, lookups, ...yjsOf(t) } : { type: 'sharded', lookups, ...yjsOf(t) };
  }
  for (const lt of lookupTables) {
    if (tables[lt]) issues.push({ path: [...at, 'tables', lt], message: `"${lt}" is the name of a lookup vindex's table` });
  }
  return {
    name: ks.name,
    engine: ks.engine,
    shards,
    regions: ks.regions,
    replicaEngine: ks.replicaEngine ?? ks.engine,
    transactionMode: ks.transactionMode,
    tables,
  };
}

/** `keyspaces[0].tables.users.vindex.type` → `keyspaces["main"].tables.users.vindex.type`. */
function formatPath(input: unknown, path: Path): string {
  let out = '';
  let node: unknown = input;
  for (const seg of path) {
    const name = Array.isArray(node) && typeof seg === 'number' ? (node[seg] as { name?: unknown } | undefined)?.name : undefined;
    if (typeof seg === 'number') out += typeof name === 'string' && out === 'keyspaces' ? `["${name}"]` : `[${seg}]`;
    else out += out ? `.${String(seg)}` : String(seg);
    node = node && typeof node === 'object' ? (node as Record<PropertyKey, unknown>)[seg] : undefined;
  }
  return out || '(root)';
}

function fail(input: unknown, issues: Issue[]): never {
  const text = issues.map((i) => `${formatPath(input, i.path)}: ${i.message}`).join('; ');
  throw new VitessError('INVALID', `invalid vschema: ${text}`);
}
