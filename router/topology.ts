/**
 * Where a keyspace's shards live: one VTTablet DO per (keyspace, shard), named
 * `keyspace/shard`, running the keyspace's engine. The vschema comes from the Worker's
 * `VSCHEMA` variable (JSON) or is the default one.
 */
import type { AuthEnv } from './access/token.js';
import type { EdgeEnv } from './gateway/edge.js';
import type { EngineKind } from '../engines/engine.js';
import type { TabletEnv, VTTablet } from '../primary/tablet.js';
import type { VTCoordinator } from './txn/coordinator-do.js';
import { partitionOf } from './txn/coordinator.js';
import type { VTSequence } from './sequences/sequence-do.js';
import type { CoordinatorApi, ReplicaApi, SequenceApi, Stub, TabletApi } from '../rpc/do-api.js';
import { stubOf } from '../rpc/do-stub.js';
import type { ReplicaConfig, VTReplica } from '../replica/replica-do.js';
import { DEFAULT_VSCHEMA, keyspaceOf, parseVSchema, type KeyspaceVSchema, type VSchema } from './vschema.js';

export interface Env extends AuthEnv, EdgeEnv, TabletEnv {
  /** `on`: serve `/demo` (the local default sets it in .dev.vars; off when deployed unless set). */
  VITESS_DEMO?: string;
  TABLET: DurableObjectNamespace<VTTablet>;
  REPLICA: DurableObjectNamespace<VTReplica>;
  /** Two-phase-commit coordinators (router/txn/coordinator-do.ts). */
  COORDINATOR: DurableObjectNamespace<VTCoordinator>;
  /** Global sequences (router/sequences/sequence-do.ts). */
  SEQUENCE: DurableObjectNamespace<VTSequence>;
  /** The vschema as JSON (text or object); the default one when unset. */
  VSCHEMA?: string | object;
}

/** Coordinator DOs: transactions are spread over this many by txid. */
export const COORDINATOR_PARTITIONS = 16;

export const engineKind = (ks: KeyspaceVSchema): EngineKind => (ks.engine === 'pglite' ? 'pglite' : 'do-sqlite');

/** The vschema and the way to each shard's primary. */
export class Topology {
  constructor(
    readonly vschema: VSchema,
    private readonly env: Env,
  ) {}

  keyspace(name: string): KeyspaceVSchema {
    return keyspaceOf(this.vschema, name);
  }

  tablet(keyspace: string, shard: string): Stub<TabletApi> {
    return stubOf<TabletApi>(this.env.TABLET.getByName(`${keyspace}/${shard}`));
  }

  /** The coordinator of a cross-shard transaction. */
  coordinator(txid: string): Stub<CoordinatorApi> {
    return stubOf<CoordinatorApi>(this.env.COORDINATOR.getByName(`coordinator/${partitionOf(txid, COORDINATOR_PARTITIONS)}`));
  }

  /** The keyspace's DDL coordinator: records each DDL statement before it reaches the shards, and finishes it after a crash. */
  ddlCoordinator(keyspace: string): Stub<CoordinatorApi> {
    return stubOf<CoordinatorApi>(this.env.COORDINATOR.getByName(`ddl/${keyspace}`));
  }

  /** The keeper of the waits-for graph of transactions across shards (router/txn/coordinator-locks.ts). */
  locks(): Stub<CoordinatorApi> {
    return stubOf<CoordinatorApi>(this.env.COORDINATOR.getByName('locks'));
  }

  /** The keyspace's global sequences and their registry (router/sequences/sequence-do.ts). */
  sequence(keyspace: string): Stub<SequenceApi> {
    return stubOf<SequenceApi>(this.env.SEQUENCE.getByName(`sequence/${keyspace}`));
  }

  /** The shard's replica in `region`, placed there when deployed (a location hint; simulated locally). */
  replica(keyspace: string, shard: string, region: string): Stub<ReplicaApi> {
    const ns = this.env.REPLICA;
    return stubOf<ReplicaApi>(ns.get(ns.idFromName(`${keyspace}/${shard}/${region}`), { locationHint: region as DurableObjectLocationHint }));
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
    case 'NA':
      return Number.isFinite(lon) && lon > -100 ? 'enam' : 'wnam';
    case 'SA':
      return 'sam';
    case 'EU':
      return Number.isFinite(lon) && lon > 20 ? 'eeur' : 'weur';
    case 'AS':
      return 'apac';
    case 'OC':
      return 'oc';
    case 'AF':
      return 'afr';
    default:
      return undefined;
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
