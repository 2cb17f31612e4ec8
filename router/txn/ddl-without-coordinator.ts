/**
 * DDL across shards on a Worker without the COORDINATOR binding (router/bindings.ts; the
 * two-line server of docs/packages.md): sent in the DDL coordinator's order, the first shard
 * alone (its refusal is the answer, and no shard has it), then the others at once, but from
 * VTGate and with nothing recorded. What the coordinator adds is missing: a shard that does not
 * apply it is not sent it again, and statements from different VTGate isolates are not put in
 * one order (within an isolate they take turns). The error says where it is applied.
 */
import { Mutex } from '../../engines/mutex.js';
import type { Stub, TabletApi } from '../../rpc/do-api.js';
import { asVitessError, VitessError } from '../../rpc/errors.js';
import type { DdlRequest, DdlResult } from './coordinator-do.js';

/** The keyspace's DDL statements take turns in this isolate. */
const turns = new Map<string, Mutex>();

type Sent = { lsn: number } | { refused: VitessError } | { failed: VitessError };

export function ddlWithoutCoordinator(tablet: (shard: string) => Stub<Pick<TabletApi, 'applyDdl'>>, req: DdlRequest): Promise<DdlResult> {
  let turn = turns.get(req.keyspace);
  if (!turn) turns.set(req.keyspace, (turn = new Mutex()));
  const send = async (shard: string): Promise<Sent> => {
    try {
      const out = await tablet(shard).applyDdl(req.engine, req.id, req.statements);
      return out.outcome === 'refused' ? { refused: VitessError.fromJSON(out.error) } : { lsn: out.lsn };
    } catch (e) {
      return { failed: asVitessError(e) };
    }
  };
  return turn.run(async () => {
    const [first, ...others] = req.shards;
    const decided = await send(first!);
    if ('refused' in decided) return { outcome: 'refused', lsns: {}, pending: [], error: decided.refused.toJSON() };
    if ('failed' in decided) {
      throw new VitessError(
        'UNAVAILABLE',
        `the DDL statement's first shard ${req.keyspace}/${first} did not answer (${decided.failed.code}: ${decided.failed.message}), so it may or may not be applied there, and no other shard has it; with no COORDINATOR binding nothing sends it again: check that shard's schema before running it again`,
        { shards: req.shards },
      );
    }
    const lsns: Record<string, number> = { [first!]: decided.lsn };
    const failed: [string, VitessError][] = [];
    await Promise.all(
      others.map(async (shard) => {
        const r = await send(shard);
        if ('lsn' in r) lsns[shard] = r.lsn;
        else failed.push([shard, 'refused' in r ? r.refused : r.failed]);
      }),
    );
    if (failed.length) {
      const [shard, e] = failed[0]!;
      throw new VitessError(
        'UNAVAILABLE',
        `the DDL statement is applied on shard(s) ${Object.keys(lsns).join(', ')} of keyspace "${req.keyspace}" and not on ${failed.map(([s]) => s).join(', ')} (${shard}: ${e.code}: ${e.message}); with no COORDINATOR binding nothing sends it there again: once they answer, run it again in an IF NOT EXISTS / IF EXISTS form, which changes only the shards that lack it`,
        { shards: failed.map(([s]) => s) },
      );
    }
    return { outcome: 'applied', lsns, pending: [] };
  });
}
