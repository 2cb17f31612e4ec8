/**
 * Where a keyspace's shards live: one VTTablet DO per (keyspace, shard), named
 * `keyspace/shard`, running the keyspace's engine. The vschema comes from the Worker's
 * `VSCHEMA` variable (JSON) or is the default one; which shards a keyspace has is its shard
 * layout (router/layout/), seeded from it and kept by the VTCoordinator `topology/<keyspace>`.
 * Only TABLET is a binding every Worker has; without one of the others its feature fails, naming
 * the lines to add (router/bindings.ts).
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
import { missingBinding, missingFor, type DoBinding } from './bindings.js';
import { ddlWithoutCoordinator } from './txn/ddl-without-coordinator.js';
import { DEFAULT_VSCHEMA, keyspaceOf, parseVSchema, type KeyspaceVSchema, type VSchema } from './vschema.js';
import { layoutOf, sameShards, shardNames, type ShardLayout } from './layout/layout.js';
import { cachedLayout, loadLayout } from './layout/layout-cache.js';

export interface Env extends AuthEnv, EdgeEnv, TabletEnv {
  /** `on`: serve `/demo` (the local default sets it in .dev.vars; off when deployed unless set). */
  VITESS_DEMO?: string;
  TABLET: DurableObjectNamespace<VTTablet>;
  /** Read replicas: needed by a keyspace with `regions`. */
  REPLICA?: DurableObjectNamespace<VTReplica>;
  /** Two-phase-commit and DDL coordinators (router/txn/coordinator-do.ts); without it, DDL goes shard by shard (router/txn/ddl-without-coordinator.ts). */
  COORDINATOR?: DurableObjectNamespace<VTCoordinator>;
  /** Global sequences (router/sequences/sequence-do.ts). */
  SEQUENCE?: DurableObjectNamespace<VTSequence>;
  /** The vschema as JSON (text or object); the default one when unset. */
  VSCHEMA?: string | object;
}

/** Coordinator DOs: transactions are spread over this many by txid. */
export const COORDINATOR_PARTITIONS = 16;

export const engineKind = (ks: KeyspaceVSchema): EngineKind => (ks.engine === 'pglite' ? 'pglite' : 'do-sqlite');

/**
 * A Durable Object the Worker has no binding for: each call fails with the error naming it, but
 * for the calls in `answers` (what the absence of the feature means, e.g. no sequence columns).
 */
function unbound<Api>(name: DoBinding, answers: { [K in keyof Api]?: Api[K] } = {}): Stub<Api> {
  const get = (_: unknown, method: string | symbol) => {
    if (method === 'then') return undefined; // not a promise
    return (answers as Record<string | symbol, unknown>)[method] ?? (() => Promise.reject(missingBinding(name)));
  };
  return new Proxy({}, { get }) as Stub<Api>;
}

/** The layout cache's key: the keyspace and the VSCHEMA shards it is seeded from. */
const layoutKey = (ks: KeyspaceVSchema): string => `${ks.name}\u0000${ks.shards.join(' ')}`;

/**
 * The vschema with each keyspace's shards as its cached layout has them: `base` itself while
 * they agree (so that plans cached by vschema stay), else one object per combination.
 */
const effective = new WeakMap<VSchema, Map<string, VSchema>>();
function withLayouts(base: VSchema): VSchema {
  const moved = base.keyspaces.flatMap((ks) => {
    const layout = cachedLayout(layoutKey(ks));
    return layout && !sameShards(shardNames(layout), ks.shards) ? [{ ks, shards: shardNames(layout) }] : [];
  });
  if (!moved.length) return base;
  const sig = moved.map((m) => `${m.ks.name}:${m.shards.join(' ')}`).join('\n');
  let byLayouts = effective.get(base);
  if (!byLayouts) effective.set(base, (byLayouts = new Map()));
  let vschema = byLayouts.get(sig);
  if (!vschema) {
    const shardsOf = new Map(moved.map((m) => [m.ks.name, m.shards]));
    vschema = { keyspaces: base.keyspaces.map((ks) => (shardsOf.has(ks.name) ? { ...ks, shards: shardsOf.get(ks.name)! } : ks)) };
    byLayouts.set(sig, vschema);
  }
  return vschema;
}

/** The vschema and the way to each shard's primary. */
export class Topology {
  /**
   * `base`: the configured vschema; `vschema` is it with the shard layouts this isolate knows.
   * `checkBindings`: a keyspace that needs a binding the Worker lacks (router/bindings.ts) is
   * refused, naming it; VTGate checks, while tests and benchmarks may hand in what they use.
   */
  constructor(
    readonly base: VSchema,
    private readonly env: Env,
    private readonly checkBindings = false,
  ) {}

  /** The vschema statements are planned and routed by: shards as the cached layouts have them. */
  get vschema(): VSchema {
    return withLayouts(this.base);
  }

  /**
   * The keyspace's shard layout: the isolate's cached one while fresh (no round trip), else read
   * from its keeper; `minVersion`: a tablet's fence that refused an older stamp. Without the
   * COORDINATOR binding the layout is the VSCHEMA's, version 1, and never changes.
   */
  layout(keyspace: string, minVersion = 0): Promise<ShardLayout> {
    const ks = keyspaceOf(this.base, keyspace);
    const key = layoutKey(ks);
    const seed = async () => cachedLayout(key) ?? layoutOf(keyspace, ks.shards);
    const ns = this.env.COORDINATOR;
    // The keeper unreachable: route by the last layout known; the tablets' fence refuses it if stale.
    const read = ns
      ? async () => {
          try {
            return await stubOf<CoordinatorApi>(ns.getByName(`topology/${keyspace}`)).layout(keyspace);
          } catch {
            return seed();
          }
        }
      : seed;
    return loadLayout(key, read, minVersion);
  }

  /**
   * The vschema statements are planned by now, and each keyspace's layout version, read in one
   * step: what a plan routes by and the version its statements are stamped with must agree (a
   * refresh by another request while this one awaits must not restamp a plan made before it).
   */
  routing(): { vschema: VSchema; versions: ReadonlyMap<string, number> } {
    return { vschema: this.vschema, versions: new Map(this.base.keyspaces.map((ks) => [ks.name, this.layoutVersion(ks.name)])) };
  }

  /** The version of the layout routing uses now (the cached one; 1, the VSCHEMA's, before any read). */
  layoutVersion(keyspace: string): number {
    return cachedLayout(layoutKey(keyspaceOf(this.base, keyspace)))?.version ?? 1;
  }

  keyspace(name: string): KeyspaceVSchema {
    const ks = keyspaceOf(this.vschema, name);
    const missing = this.checkBindings && missingFor(ks, this.env);
    if (missing) throw missing;
    return ks;
  }

  tablet(keyspace: string, shard: string): Stub<TabletApi> {
    return stubOf<TabletApi>(this.env.TABLET.getByName(`${keyspace}/${shard}`));
  }

  /** The coordinator of a cross-shard transaction. */
  coordinator(txid: string): Stub<CoordinatorApi> {
    const ns = this.env.COORDINATOR;
    return ns ? stubOf<CoordinatorApi>(ns.getByName(`coordinator/${partitionOf(txid, COORDINATOR_PARTITIONS)}`)) : unbound('COORDINATOR');
  }

  /**
   * The keyspace's DDL coordinator: records each DDL statement before it reaches the shards, and
   * finishes it after a crash. Without the binding, VTGate sends it shard by shard itself.
   */
  ddlCoordinator(keyspace: string): Stub<Pick<CoordinatorApi, 'ddl'>> {
    const ns = this.env.COORDINATOR;
    if (ns) return stubOf<CoordinatorApi>(ns.getByName(`ddl/${keyspace}`));
    return unbound<Pick<CoordinatorApi, 'ddl'>>('COORDINATOR', { ddl: (req) => ddlWithoutCoordinator((shard) => this.tablet(keyspace, shard), req) });
  }

  /** The keeper of the waits-for graph of transactions across shards (router/txn/coordinator-locks.ts). */
  locks(): Stub<CoordinatorApi> {
    const ns = this.env.COORDINATOR;
    return ns ? stubOf<CoordinatorApi>(ns.getByName('locks')) : unbound('COORDINATOR');
  }

  /**
   * The keyspace's global sequences and their registry (router/sequences/sequence-do.ts). Without
   * the binding there are none: the registry lists no column, and only drawing or defining one fails.
   */
  sequence(keyspace: string): Stub<SequenceApi> {
    const ns = this.env.SEQUENCE;
    if (ns) return stubOf<SequenceApi>(ns.getByName(`sequence/${keyspace}`));
    return unbound<SequenceApi>('SEQUENCE', {
      columns: async () => [],
      // Called after the DDL ran on the shards: a table with sequence columns is there, unusable.
      register: async (table, columns) => {
        if (!columns.length) return;
        const serial = columns.map((c) => c.column).join(', ');
        throw missingBinding(
          'SEQUENCE',
          `the SERIAL column(s) ${serial} of table "${table}", created on the shards as plain integers (DROP TABLE ${table} and create it again once the binding is there)`,
        );
      },
    });
  }

  /** The shard's replica in `region`, placed there when deployed (a location hint; simulated locally). */
  replica(keyspace: string, shard: string, region: string): Stub<ReplicaApi> {
    const ns = this.env.REPLICA;
    if (!ns) return unbound('REPLICA');
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
