/**
 * Where a keyspace's shards live: one VTTablet DO per (keyspace, shard), named
 * `keyspace/shard`, running the keyspace's engine. The vschema comes from the Worker's
 * `VSCHEMA` variable (JSON) or is the default one.
 */
import type { AuthEnv } from './access/token.js';
import type { EdgeEnv } from './edge.js';
import type { EngineKind } from '../engines/engine.js';
import type { PullOptions, PullResult } from '../changelog/log.js';
import type { TableSchema, TabletResult, TabletStatus, TransactionOptions, TabletEnv, TxOutcome, VTTablet } from '../primary/tablet.js';
import type { CommitResult, VTCoordinator } from './coordinator-do.js';
import { partitionOf } from './coordinator.js';
import type { SequenceColumn, VTSequence } from './sequence-do.js';
import type { TxDriver } from '../primary/interactive.js';
import type { Statement } from '../rpc/results.js';
import type { SqlValue } from '../rpc/values.js';
import type { ReadRequest, ReplicaConfig, ReplicaResult, ReplicaStatus, VTReplica } from '../replica/replica-do.js';
import { DEFAULT_VSCHEMA, keyspaceOf, parseVSchema, type KeyspaceVSchema, type VSchema } from './vschema.js';

export interface Env extends AuthEnv, EdgeEnv, TabletEnv {
  /** `on`: serve `/demo` (the local default sets it in .dev.vars; off when deployed unless set). */
  VITESS_DEMO?: string;
  TABLET: DurableObjectNamespace<VTTablet>;
  REPLICA: DurableObjectNamespace<VTReplica>;
  /** Two-phase-commit coordinators (router/coordinator-do.ts). */
  COORDINATOR: DurableObjectNamespace<VTCoordinator>;
  /** Global sequences (router/sequence-do.ts). */
  SEQUENCE: DurableObjectNamespace<VTSequence>;
  /** The vschema as JSON (text or object); the default one when unset. */
  VSCHEMA?: string | object;
}

/** The tablet's RPC surface as VTGate calls it (the generated stub type is too deep for tsc). */
export interface TabletStub {
  query(kind: EngineKind, sql: string, params?: SqlValue[]): Promise<TabletResult>;
  batch(kind: EngineKind, statements: Statement[], opts?: { atomic?: boolean }): Promise<TabletResult[]>;
  transaction(kind: EngineKind, txid: string, driver: TxDriver, opts?: TransactionOptions): Promise<TxOutcome>;
  pull(fromLsn: number, opts?: PullOptions): Promise<PullResult>;
  schema(kind: EngineKind): Promise<TableSchema[]>;
  status(): Promise<TabletStatus>;
}

/** The coordinator's RPC surface as VTGate calls it. */
export interface CoordinatorStub {
  begin(txid: string, participants: string[], opts: { decideWithinMs: number; participantTimeoutMs: number }): Promise<void>;
  commit(txid: string): Promise<CommitResult>;
  rollback(txid: string): Promise<CommitResult>;
  waitFor(txid: string, holds: string[], wants: string, expiresAt: number): Promise<string[] | null>;
  release(txid: string): Promise<void>;
}

/** The sequence DO's RPC surface as VTGate calls it. */
export interface SequenceStub {
  allocate(sequence: string, count: number): Promise<{ first: number; count: number }>;
  define(name: string, start: number, ifNotExists: boolean): Promise<void>;
  check(names: string[]): Promise<void>;
  register(table: string, columns: { column: string; sequence: string }[]): Promise<void>;
  columns(): Promise<SequenceColumn[]>;
}

/** Coordinator DOs: transactions are spread over this many by txid. */
export const COORDINATOR_PARTITIONS = 16;

/** The replica's RPC surface as VTGate calls it. */
export interface ReplicaStub {
  start(config: ReplicaConfig): Promise<ReplicaStatus>;
  read(sql: string, params: SqlValue[], opts?: ReadRequest): Promise<ReplicaResult>;
  status(): Promise<ReplicaStatus>;
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

  /** The coordinator of a cross-shard transaction. */
  coordinator(txid: string): CoordinatorStub {
    return this.env.COORDINATOR.getByName(`coordinator/${partitionOf(txid, COORDINATOR_PARTITIONS)}`) as unknown as CoordinatorStub;
  }

  /** The keeper of the waits-for graph of transactions across shards (router/coordinator-locks.ts). */
  locks(): CoordinatorStub {
    return this.env.COORDINATOR.getByName('locks') as unknown as CoordinatorStub;
  }

  /** The keyspace's global sequences and their registry (router/sequence-do.ts). */
  sequence(keyspace: string): SequenceStub {
    return this.env.SEQUENCE.getByName(`sequence/${keyspace}`) as unknown as SequenceStub;
  }

  /** The shard's replica in `region`, placed there when deployed (a location hint; simulated locally). */
  replica(keyspace: string, shard: string, region: string): ReplicaStub {
    const ns = this.env.REPLICA;
    return ns.get(ns.idFromName(`${keyspace}/${shard}/${region}`), { locationHint: region as DurableObjectLocationHint }) as unknown as ReplicaStub;
  }

  /** What a replica is started with (idempotent: the same every time). */
  replicaConfig(keyspace: string, shard: string, region: string): ReplicaConfig {
    const ks = this.keyspace(keyspace);
    return { keyspace, shard, region, primaryEngine: engineKind(ks), engine: ks.replicaEngine === 'pglite' ? 'pglite' : 'do-sqlite' };
  }

  /**
   * The replica region nearest a request: the one asked for when the keyspace has it, else a
   * guess from Cloudflare's location of the request, else the keyspace's first region.
   */
  regionFor(keyspace: string, asked: string | undefined, cf: RequestLocation | undefined): string | undefined {
    const regions: string[] = this.keyspace(keyspace).regions;
    if (!regions.length) return undefined;
    if (asked && regions.includes(asked)) return asked;
    const guess = cf && guessRegion(cf);
    return guess && regions.includes(guess) ? guess : regions[0];
  }
}

/** The parts of `request.cf` that place a request. */
export interface RequestLocation {
  continent?: string;
  longitude?: string | number;
}

function guessRegion(cf: RequestLocation): string | undefined {
  const lon = Number(cf.longitude);
  switch (cf.continent) {
    case 'NA': return Number.isFinite(lon) && lon > -100 ? 'enam' : 'wnam';
    case 'SA': return 'sam';
    case 'EU': return Number.isFinite(lon) && lon > 20 ? 'eeur' : 'weur';
    case 'AS': return 'apac';
    case 'OC': return 'oc';
    case 'AF': return 'afr';
    default: return undefined;
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
