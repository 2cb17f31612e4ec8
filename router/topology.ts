/**
 * Where a keyspace's shards live: one VTTablet DO per (keyspace, shard), named
 * `keyspace/shard`, running the keyspace's engine. The vschema comes from the Worker's
 * `VSCHEMA` variable (JSON) or is the default one.
 */
import type { EngineKind } from '../engines/engine.js';
import type { PullOptions, PullResult } from '../changelog/log.js';
import type { TableSchema, TabletResult, TabletStatus, TxOutcome, VTTablet } from '../primary/tablet.js';
import type { TxDriver } from '../primary/interactive.js';
import type { Statement } from '../rpc/results.js';
import type { SqlValue } from '../rpc/values.js';
import { DEFAULT_VSCHEMA, keyspaceOf, parseVSchema, type KeyspaceVSchema, type VSchema } from './vschema.js';

export interface Env {
  TABLET: DurableObjectNamespace<VTTablet>;
  /** The vschema as JSON (text or object); the default one when unset. */
  VSCHEMA?: string | object;
}

/** The tablet's RPC surface as VTGate calls it (the generated stub type is too deep for tsc). */
export interface TabletStub {
  query(kind: EngineKind, sql: string, params?: SqlValue[]): Promise<TabletResult>;
  batch(kind: EngineKind, statements: Statement[], opts?: { atomic?: boolean }): Promise<TabletResult[]>;
  transaction(kind: EngineKind, txid: string, driver: TxDriver, opts?: { timeoutMs?: number }): Promise<TxOutcome>;
  pull(fromLsn: number, opts?: PullOptions): Promise<PullResult>;
  schema(kind: EngineKind): Promise<TableSchema[]>;
  status(): Promise<TabletStatus>;
}

export const engineKind = (ks: KeyspaceVSchema): EngineKind => (ks.engine === 'pglite' ? 'pglite' : 'do-sqlite');

/** The vschema and the way to each shard's primary. */
export class Topology {
  constructor(readonly vschema: VSchema, private readonly env: Env) {}

  keyspace(name: string): KeyspaceVSchema {
    return keyspaceOf(this.vschema, name);
  }

  tablet(keyspace: string, shard: string): TabletStub {
    return this.env.TABLET.getByName(`${keyspace}/${shard}`) as unknown as TabletStub;
  }
}

let parsed: { raw: unknown; vschema: VSchema } | undefined;

/** The configured vschema, validated once per isolate. */
export function configuredVSchema(env: Env): VSchema {
  const raw = env.VSCHEMA;
  if (raw === undefined || raw === '') return DEFAULT_VSCHEMA;
  if (parsed?.raw !== raw) parsed = { raw, vschema: parseVSchema(typeof raw === 'string' ? JSON.parse(raw) : raw) };
  return parsed.vschema;
}
