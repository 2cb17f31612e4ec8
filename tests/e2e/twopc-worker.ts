// The Worker for tests/e2e/bank*.test.ts: VTGate exactly as deployed (router/server.ts), with
// the two-phase-commit failpoints armed by `POST /test/arm?failpoint=<step>[:<n>]` (after the
// test saw recovery finish: armed at start, recovery's own resends would stop at the step):
// the n-th transaction (default the first) to reach that step stops there for good, and from
// then on no coordinator alarm runs either — the process is as good as dead at that step, and
// the test kills it. Test-only routes show which steps were reached and what is in doubt on
// every shard and coordinator, and `POST /test/deadlock-detection?on=false` switches the
// waits-for graph off (every wait let through), to show the deadlock test can fail.
import { armFailpoints, type Failpoint } from '../../primary/failpoints.js';
import type { DdlIntent, TxRecord } from '../../router/txn/coordinator.js';
import { COORDINATOR_PARTITIONS, configuredVSchema, type Env } from '../../router/topology.js';
import { VTCoordinator, VTGate, VTReplica, VTSequence, VTTablet } from '../../router/server.js';
import type { Awaitable, CoordinatorApi, TabletApi } from '../../rpc/do-api.js';
import { stubOf } from '../../rpc/do-stub.js';

export { VTReplica, VTSequence, VTTablet };

const reached = new Set<Failpoint>();
const forever = (): Promise<never> => new Promise(() => undefined);
let armed = false;
let detectDeadlocks = true;

function arm(spec: string | undefined): void {
  if (armed || !spec) return;
  armed = true;
  const [step, nth = '1'] = spec.split(':');
  let seen = 0;
  armFailpoints(async (at) => {
    if (at !== step || reached.size || ++seen < Number(nth)) return;
    reached.add(at);
    await forever(); // stopped here until the process is killed
  });
}

/** The coordinator's API here, with the steps it reached. */
interface TestCoordinatorApi extends CoordinatorApi {
  reached(): Awaitable<Failpoint[]>;
}

/** The coordinator (it runs the after-decision and during-commit steps; same isolate, same failpoints). */
export class TestCoordinator extends VTCoordinator implements TestCoordinatorApi {
  reached(): Failpoint[] {
    return [...reached];
  }

  override waitFor(txid: string, holds: string[], wants: string, expiresAt: number): string[] | null {
    return detectDeadlocks ? super.waitFor(txid, holds, wants, expiresAt) : null;
  }

  /** Recovery stops with the rest of the process at the failpoint (and the alarm stays due). */
  override async alarm(): Promise<void> {
    if (reached.size) return forever();
    await super.alarm();
    if (reached.size) return forever();
  }
}

/** This Worker's COORDINATOR binding is a TestCoordinator (twopc.wrangler.jsonc). */
type TestEnv = Omit<Env, 'COORDINATOR'> & { COORDINATOR: DurableObjectNamespace<TestCoordinator> };

export default class TestGate extends VTGate {
  override async fetch(req: Request): Promise<Response> {
    const env = this.env as Omit<Env, 'COORDINATOR'> as TestEnv;
    const url = new URL(req.url);
    if (url.pathname === '/test/arm' && req.method === 'POST') {
      arm(url.searchParams.get('failpoint') ?? undefined);
      return Response.json({ armed: true });
    }
    if (url.pathname === '/test/deadlock-detection' && req.method === 'POST') {
      detectDeadlocks = url.searchParams.get('on') !== 'false';
      return Response.json({ detectDeadlocks });
    }
    const coordinators = () =>
      Array.from({ length: COORDINATOR_PARTITIONS }, (_, i) =>
        stubOf<Pick<TestCoordinatorApi, 'list' | 'reached'>>(env.COORDINATOR.getByName(`coordinator/${i}`)),
      );
    if (url.pathname === '/test/failpoint') {
      const all = new Set<string>(reached);
      for (const c of coordinators()) for (const s of await c.reached()) all.add(s);
      return Response.json({ reached: [...all] });
    }
    if (url.pathname === '/test/in-doubt') {
      // Prepared transactions on every shard of every keyspace, coordinator records not finished, and DDL intents pending.
      const prepared: Record<string, string[]> = {};
      const ddl: DdlIntent[] = [];
      for (const ks of configuredVSchema(this.env).keyspaces) {
        if (url.searchParams.get('keyspace') && ks.name !== url.searchParams.get('keyspace')) continue;
        ddl.push(...(await stubOf<Pick<TestCoordinatorApi, 'ddlIntents'>>(env.COORDINATOR.getByName(`ddl/${ks.name}`)).ddlIntents()));
        for (const shard of ks.shards) {
          const list = await stubOf<Pick<TabletApi, 'listPrepared'>>(env.TABLET.getByName(`${ks.name}/${shard}`)).listPrepared();
          if (list.length) prepared[`${ks.name}/${shard}`] = list.map((p) => p.txid);
        }
      }
      const records: TxRecord[] = (await Promise.all(coordinators().map((c) => c.list()))).flat();
      return Response.json({ prepared, records, ddl });
    }
    return super.fetch(req);
  }
}
