import type { EngineKind } from '../engines/engine.js';

export interface Keyspace {
  name: string;
  engine: EngineKind;
  /** Vitess key-range names of the shards; one unsharded shard `-` until routing lands. */
  shards: string[];
}

/** What `npm start` serves with no configuration: keyspace `main` on DO SQLite, `pg` on PGlite. */
export const DEFAULT_KEYSPACES: Keyspace[] = [
  { name: 'main', engine: 'do-sqlite', shards: ['-'] },
  { name: 'pg', engine: 'pglite', shards: ['-'] },
];
