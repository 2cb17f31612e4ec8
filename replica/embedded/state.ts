// What an embedded replica keeps next to its data, in the same database: the options it was
// created with, its phase, and per shard the LSN it has applied through. Positions are written
// in the transaction that applied the records, so a crash never loses or doubles one.
import type { Executor, StorageEngine } from '../../engines/engine.js';
import { VitessError } from '../../rpc/errors.js';
import { PARKED_SETUP } from './rows.js';

export type Phase = 'copying' | 'streaming';

export interface ReplicaScope {
  keyspace: string;
  tables?: string[];
  shards?: string[];
  keyRange?: string;
}

export interface StoredState {
  scope?: ReplicaScope;
  phase?: Phase;
  /** Per shard: every record with an LSN up to this one is applied (or was filtered out). */
  lsns: Record<string, number>;
}

const SETUP = 'CREATE TABLE IF NOT EXISTS _vt_embedded (name TEXT PRIMARY KEY, value TEXT NOT NULL)';
const PUT = 'INSERT INTO _vt_embedded (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value';

/** Creates the state table (and the parked rows', embedded-rows.ts) where missing: on opening, and after a copy wiped the database. */
export async function createStateTable(on: Executor): Promise<void> {
  await on.query(SETUP);
  await on.query(PARKED_SETUP);
}

export async function readState(db: StorageEngine): Promise<StoredState> {
  await createStateTable(db);
  const rows = (await db.query('SELECT name, value FROM _vt_embedded')).rows;
  const get = (k: string) => rows.find((r) => r.name === k)?.value as string | undefined;
  const scope = get('scope');
  const phase = get('phase');
  return {
    ...(scope && { scope: JSON.parse(scope) as ReplicaScope }),
    ...(phase && { phase: phase as Phase }),
    lsns: JSON.parse(get('lsns') ?? '{}') as Record<string, number>,
  };
}

/**
 * Writes what is given; inside the caller's transaction when `tx` is one. The table exists
 * (`createStateTable`): a DDL in every applying transaction would cost SQLite engines their
 * translated statements, each time.
 */
export async function writeState(tx: Executor, s: Partial<StoredState>): Promise<void> {
  if (s.scope) await tx.query(PUT, ['scope', JSON.stringify(s.scope)]);
  if (s.phase) await tx.query(PUT, ['phase', s.phase]);
  if (s.lsns) await tx.query(PUT, ['lsns', JSON.stringify(s.lsns)]);
}

const canonical = (s: ReplicaScope): string =>
  JSON.stringify([s.keyspace, s.tables ? [...s.tables].sort() : null, s.shards ? [...s.shards].sort() : null, s.keyRange ?? null]);

/** A database copied for one scope is opened with the same one, or refused (it would hold the wrong rows). */
export function checkScope(stored: ReplicaScope, wanted: ReplicaScope, where: string): void {
  if (canonical(stored) === canonical(wanted)) return;
  throw new VitessError(
    'INVALID',
    `the replica at ${where} holds ${describe(stored)}, not ${describe(wanted)}: open it with the same keyspace, tables, shards and keyRange, or use another path`,
  );
}

function describe(s: ReplicaScope): string {
  const parts = [`keyspace "${s.keyspace}"`];
  if (s.tables) parts.push(`tables ${s.tables.join(', ')}`);
  if (s.shards) parts.push(`shards ${s.shards.join(', ')}`);
  if (s.keyRange) parts.push(`key range ${s.keyRange}`);
  return parts.join(', ');
}
