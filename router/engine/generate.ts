/**
 * The `Generate` primitive (Vitess's `Insert.Generate`): an INSERT whose sequence columns VTGate
 * fills. The ids come through the cursor (`ShardCursor.drawIds`; VTGate's answers from its
 * isolate's block cache of the keyspace's VTSequence), are bound as the parameters after the
 * statement's own, and only then is the INSERT routed — the column is often the vindex column.
 */
import { VitessError } from '../../rpc/errors.js';
import type { ResultSet } from '../../rpc/results.js';
import type { SqlValue } from '../../rpc/values.js';
import type { Generate, Primitive } from '../planner/plan.js';
import { bindDrawn, drawCounts } from '../planner/sequences.js';
import type { Executed, ShardCursor } from './executor.js';

/** Draws the ids, then runs the INSERT with them bound; `run` executes a primitive with other parameters. */
export async function generate(
  p: Generate,
  params: SqlValue[],
  cursor: ShardCursor,
  run: (input: Primitive, params: SqlValue[]) => Promise<ResultSet>,
): Promise<Executed> {
  const counts = drawCounts(p.draw);
  if (!cursor.drawIds) {
    throw new VitessError(
      'INTERNAL',
      `this INSERT draws ids from global sequences (${[...counts.keys()].join(', ')}) of keyspace "${p.keyspace}", and it runs on a cursor without a sequence source`,
    );
  }
  const drawIds = cursor.drawIds.bind(cursor);
  // One request per sequence; each sequence's ids then go to its parameters in order.
  const taken = new Map(await Promise.all([...counts].map(async ([s, n]) => [s, await drawIds(p.keyspace, s, n)] as const)));
  const ids = p.draw.from.map((s) => {
    const id = taken.get(s)!.shift();
    if (id === undefined) throw new VitessError('INTERNAL', `sequence "${s}" handed out fewer ids than the INSERT asked for`);
    return id;
  });
  const r = await run(p.input, bindDrawn(params, p.draw, ids));
  // Nothing inserted (ON CONFLICT DO NOTHING): no id to report.
  return p.draw.lastInsertId && r.affected > 0 ? { ...r, lastInsertId: ids[0]! } : r;
}
