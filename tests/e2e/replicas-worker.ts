// The Worker for tests/e2e/replicas.test.ts: VTGate exactly as deployed (router/server.ts), plus
// one route the tests need and VTGate must not offer: `POST /test/replica` reaches a replica's
// knobs (deliberately delayed replication, pause/resume, status, tables) and a primary's trim
// and schema.
import { VTCoordinator, VTGate, VTReplica, VTSequence, VTTablet } from '../../router/server.js';
import type { ReplicaApi, TabletApi } from '../../rpc/do-api.js';
import { stubOf } from '../../rpc/do-stub.js';

export { VTCoordinator, VTReplica, VTSequence, VTTablet };

interface Knob {
  keyspace: string;
  shard: string;
  region?: string;
  op: 'delay' | 'pause' | 'resume' | 'status' | 'trim' | 'tables';
  ms?: number;
  /** The primary's engine, for `tables`. */
  kind?: 'do-sqlite' | 'pglite';
  trim?: { keepRecords?: number; keepMs?: number; maxRecords?: number };
}

type Replica = Pick<ReplicaApi, 'setApplyDelay' | 'pause' | 'resume' | 'status' | 'tables'>;
type Tablet = Pick<TabletApi, 'trim' | 'status' | 'schema'>;

export default class TestGate extends VTGate {
  override async fetch(req: Request): Promise<Response> {
    const url = new URL(req.url);
    if (req.method !== 'POST' || url.pathname !== '/test/replica') return super.fetch(req);
    const k = (await req.json()) as Knob;
    try {
      if (k.op === 'trim') {
        const t = stubOf<Tablet>(this.env.TABLET.getByName(`${k.keyspace}/${k.shard}`));
        return Response.json({ firstLsn: await t.trim(k.trim ?? {}), status: await t.status() });
      }
      const r = stubOf<Replica>(this.env.REPLICA!.getByName(`${k.keyspace}/${k.shard}/${k.region}`));
      if (k.op === 'tables') {
        // The tables of the shard's primary and of this replica, by name.
        const t = stubOf<Tablet>(this.env.TABLET.getByName(`${k.keyspace}/${k.shard}`));
        const names = (xs: { name: string }[]) => xs.map((x) => x.name).sort();
        return Response.json({ primary: names(await t.schema(k.kind ?? 'do-sqlite')), replica: names(await r.tables()) });
      }
      if (k.op === 'delay') await r.setApplyDelay(k.ms ?? 0);
      else if (k.op === 'pause') await r.pause();
      else if (k.op === 'resume') await r.resume();
      return Response.json(await r.status());
    } catch (e) {
      return Response.json({ error: String((e as Error).message ?? e) }, { status: 500 });
    }
  }
}
