/**
 * What `/status` and `client.status()` show: every keyspace, its shards with key ranges and
 * primary LSNs, and per shard its replicas (region, applied LSN, lag in records and ms, state).
 */
import type { GatewayStatus } from '../../rpc/protocol.js';
import { asVitessError } from '../../rpc/errors.js';
import { parseKeyRange } from '../../rpc/keyspace/keyrange.js';
import { ADMIN, type Grants } from '../access/grants.js';
import { engineKind, type Topology } from '../topology.js';

/** `grants`: only the keyspaces the caller's token reaches. */
export async function gatewayStatus(topology: Topology, grants: Grants = ADMIN): Promise<GatewayStatus> {
  const visible = topology.vschema.keyspaces.filter((ks) => grants.keyspaces === '*' || grants.keyspaces.includes(ks.name));
  const keyspaces = await Promise.all(
    visible.map(async (ks) => ({
      name: ks.name,
      engine: ks.engine,
      regions: ks.regions,
      shards: await Promise.all(
        ks.shards.map(async (shard) => {
          const range = parseKeyRange(shard);
          const s = await topology.tablet(ks.name, shard).status();
          return {
            shard,
            start: typeof range === 'string' ? '' : range.start,
            end: typeof range === 'string' ? '' : range.end,
            engine: engineKind(ks),
            lsn: s.lsn,
            firstLsn: s.firstLsn,
            listeners: s.listeners.length,
            prepared: s.prepared.length,
            replicas: await Promise.all(
              ks.regions.map(async (region) => {
                const r = await topology
                  .replica(ks.name, shard, region)
                  .status()
                  .catch((e: unknown) => ({ state: 'not started', error: asVitessError(e).message }));
                return { region, ...r };
              }),
            ),
          };
        }),
      ),
    })),
  );
  return { keyspaces };
}
