import type { EngineKind } from '../engines/engine.js';
import { DEFAULT_VSCHEMA } from './vschema.js';

export interface Keyspace {
  name: string;
  engine: EngineKind;
  /** Vitess key-range names of the shards served; one unsharded shard `-` until routing lands. */
  shards: string[];
}

/**
 * What `npm start` serves with no configuration: the default vschema's keyspaces (`main` on DO
 * SQLite, `pg` on PGlite), each from one unsharded shard until the planner is wired in.
 */
export const DEFAULT_KEYSPACES: Keyspace[] = DEFAULT_VSCHEMA.keyspaces.map((k) => ({
  name: k.name,
  engine: k.engine === 'pglite' ? 'pglite' : 'do-sqlite',
  shards: ['-'],
}));
