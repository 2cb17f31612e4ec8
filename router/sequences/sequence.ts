/**
 * VTGate's side of global sequences (docs/sequences.md): hands out the ids a plan's `Generate`
 * draws, from the isolate's block cache; creates and checks sequences for DDL; and keeps the
 * keyspace's registry of sequence columns (in its VTSequence DO) in step with the schema VTGate
 * learned, so that an isolate started later knows them.
 */
import { waitUntil } from 'cloudflare:workers';
import type { SchemaChange, SequenceWork } from '../planner/plan.js';
import type { SchemaInfo } from '../planner/schema.js';
import { SequenceCache } from './sequence-cache.js';
import type { SequenceColumn } from './sequence-do.js';
import type { Topology } from '../topology.js';

/** A fetch ahead outlives the request that started it; outside a request it simply runs. */
const background = (p: Promise<unknown>): void => {
  try {
    waitUntil(p);
  } catch {
    // no request context to extend
  }
};

// One cache per keyspace per isolate.
const caches = new Map<string, SequenceCache>();

/**
 * `count` ids of `sequence`, ascending, from this isolate's cache of the keyspace's blocks: what
 * VTGate's cursors answer when a plan's `Generate` asks (`ShardCursor.drawIds`).
 */
export function drawIds(topology: Topology, keyspace: string, sequence: string, count: number): Promise<number[]> {
  let cache = caches.get(keyspace);
  if (!cache) caches.set(keyspace, (cache = new SequenceCache(background)));
  return cache.take(topology.sequence(keyspace), sequence, count);
}

/** Before DDL reaches the shards: the sequences it names exist; CREATE SEQUENCE creates one. */
export async function prepareSequences(topology: Topology, keyspace: string, work: SequenceWork): Promise<void> {
  const stub = topology.sequence(keyspace);
  if (work.need?.length) await stub.check(work.need);
  if (work.define) await stub.define(work.define.name, work.define.start, work.define.ifNotExists);
}

/** After DDL ran in a sharded keyspace: the registry holds the sequence columns of the tables it changed. */
export async function registerSequences(topology: Topology, keyspace: string, change: SchemaChange, schema: SchemaInfo): Promise<void> {
  const stub = topology.sequence(keyspace);
  const columns = (table: string) => (schema.columns(table) ?? []).flatMap((c) => (c.sequence ? [{ column: c.name, sequence: c.sequence }] : []));
  switch (change.kind) {
    case 'create':
      return stub.register(change.table, columns(change.table));
    case 'drop':
      for (const t of change.tables) await stub.register(t, []);
      return;
    case 'alter': {
      const now = change.rename ?? change.table;
      // A table this isolate does not know: its registry entries stay as they are.
      if (!schema.columns(now)) return;
      if (change.rename) await stub.register(change.table, []);
      return stub.register(now, columns(now));
    }
  }
}

/** The registry: which columns of which tables draw from which sequence. */
export function sequenceColumns(topology: Topology, keyspace: string): Promise<SequenceColumn[]> {
  return topology.sequence(keyspace).columns();
}
