/**
 * Snapshots for clients (`KeyspaceSession.snapshot` / `schema`): an embedded replica copies a
 * keyspace shard by shard, table by table, in primary-key pages, each exactly the shard's state
 * at the page's LSN (the tablet reads it under its write lock), after building the schema from
 * the shards' DDL histories. See docs/embedded-replicas.md.
 */
import { PAGE_LIMITS } from '../../changelog/snapshot.js';
import type { Stub, TabletApi } from '../../rpc/do-api.js';
import { VitessError } from '../../rpc/errors.js';
import { filterRowsJson } from '../../rpc/results.js';
import { inRange } from '../../rpc/keyspace/keyrange.js';
import type { RpcSnapshotPage, ShardSchema, SnapshotRequest } from '../../rpc/protocol.js';
import { fromRpc, toRpc } from '../../rpc/values.js';
import { inFilter } from '../access/grants.js';
import { checkReadable, type Visibility } from '../access/visibility.js';
import { tableRouting } from '../planner/route.js';
import { MemorySchema } from '../planner/schema.js';
import { shardScope } from './subscriptions.js';
import { engineKind, type Topology } from '../topology.js';
import { keyspaceIdFor } from '../vindex/vindex.js';

/** The tablet's snapshot surface as VTGate calls it. */
type SnapshotTablet = Pick<TabletApi, 'snapshot' | 'ddlHistory' | 'schema'>;

export const SNAPSHOT_LIMITS = { defaultRows: 1_000, maxRows: PAGE_LIMITS.rows } as const;

const tablet = (topology: Topology, keyspace: string, shard: string): Stub<SnapshotTablet> => topology.tablet(keyspace, shard);

/** One page of `req.table` on `req.shard`, filtered to `req.keyRange` when the range cuts through the shard. */
/** `vis`: what the caller's token may see; a row-filtered table's page holds only the token's rows. */
export async function snapshotPage(topology: Topology, keyspace: string, req: SnapshotRequest, vis?: Visibility): Promise<RpcSnapshotPage> {
  if (!req || typeof req !== 'object' || typeof req.shard !== 'string' || typeof req.table !== 'string') {
    throw new VitessError('INVALID', 'snapshot() takes { shard, table, afterKey?, limit?, keyRange? }');
  }
  if (req.afterKey != null && !Array.isArray(req.afterKey))
    throw new VitessError('INVALID', 'snapshot option "afterKey" must be the previous page\'s nextKey (an array) or null');
  checkReadable(vis, req.table);
  const ks = topology.keyspace(keyspace);
  const [scope] = shardScope(ks, { from: 'now', shards: [req.shard], ...(req.keyRange != null && { keyRange: req.keyRange }) });
  const limit = Math.min(SNAPSHOT_LIMITS.maxRows, Math.max(1, Math.floor(Number(req.limit ?? SNAPSHOT_LIMITS.defaultRows)) || 1));
  const t = tablet(topology, keyspace, req.shard);
  const kind = engineKind(ks);
  const page = await t.snapshot(kind, req.table, req.afterKey ? req.afterKey.map((v) => fromRpc(v)) : null, limit);
  let rowsJson = page.rowsJson;
  if (scope!.partial && rowsJson !== '[]') {
    // Rows are placed by the table's vindex: keep those whose keyspace id is in the range.
    const ts = await t.schema(kind);
    const routing = tableRouting(
      ks,
      new MemorySchema(Object.fromEntries(ts.map((x) => [x.name, { primaryKey: x.primaryKey, columns: x.columns }]))),
      req.table,
    );
    const vindex = routing.kind === 'sharded' ? routing.vindex : undefined;
    const at = vindex ? page.columns.indexOf(vindex.column) : -1;
    if (vindex) {
      rowsJson = filterRowsJson(rowsJson, at, (v) => {
        const id = keyspaceIdFor(vindex, v);
        return id === undefined || inRange(id, req.keyRange!);
      });
    }
  }
  const filter = vis?.rowFilter(req.table);
  if (filter && rowsJson !== '[]') {
    const at = page.columns.indexOf(filter.column);
    if (at < 0)
      throw new VitessError('FORBIDDEN', `the token's row filter names column "${filter.column}", which table "${req.table}" does not have`, {
        table: req.table,
      });
    rowsJson = filterRowsJson(rowsJson, at, (v) => inFilter(filter, v));
  }
  return {
    table: page.table,
    columns: page.columns,
    rowsJson,
    nextKey: page.nextKey ? page.nextKey.map(toRpc) : null,
    lsn: page.lsn,
  };
}

/** The DDL history of each shard asked for (default: every shard of the keyspace), read in parallel. */
export async function shardSchemas(topology: Topology, keyspace: string, shards?: string[], vis?: Visibility): Promise<ShardSchema[]> {
  const ks = topology.keyspace(keyspace);
  const scope = shardScope(ks, { from: 'now', ...(shards != null && { shards }) });
  return Promise.all(
    scope.map(async ({ shard }) => {
      const h = await tablet(topology, keyspace, shard).ddlHistory();
      return { shard, lsn: h.lsn, ddl: vis ? h.statements.filter((d) => vis.ddl(d)) : h.statements, complete: h.complete };
    }),
  );
}
