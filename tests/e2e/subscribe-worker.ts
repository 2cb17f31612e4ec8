// The Worker for tests/e2e/subscribe*.test.ts: VTGate exactly as deployed (router/server.ts),
// plus one route the tests need and VTGate must not offer: `POST /test/trim` trims a primary's
// change log now, with the given policy (to put a subscriber behind the trim point).
import { VTCoordinator, VTGate, VTReplica, VTSequence, VTTablet } from '../../router/server.js';
import type { TabletApi } from '../../rpc/do-api.js';
import { stubOf } from '../../rpc/do-stub.js';

export { VTCoordinator, VTReplica, VTSequence, VTTablet };

interface TrimRequest {
  keyspace: string;
  shard: string;
  trim?: { keepRecords?: number; keepMs?: number; maxRecords?: number };
}

export default class TestGate extends VTGate {
  override async fetch(req: Request): Promise<Response> {
    const url = new URL(req.url);
    if (req.method !== 'POST' || url.pathname !== '/test/trim') return super.fetch(req);
    const t = (await req.json()) as TrimRequest;
    try {
      const tablet = stubOf<Pick<TabletApi, 'trim' | 'status'>>(this.env.TABLET.getByName(`${t.keyspace}/${t.shard}`));
      return Response.json({ firstLsn: await tablet.trim(t.trim ?? {}), status: await tablet.status() });
    } catch (e) {
      return Response.json({ error: String((e as Error).message ?? e) }, { status: 500 });
    }
  }
}
