/**
 * `vitess replica --engine pglite|libsql --path <dir>`: an embedded replica (createReplica,
 * docs/embedded-replicas.md) kept in sync in this process, reporting its LSN as it moves. The
 * local database lives under `<dir>` (`<keyspace>.db` for libSQL, `<keyspace>.pgdata/` for
 * PGlite), so a restart resumes where it stopped. `--once`: catch up with every shard's
 * primary as of now, print the LSNs and exit.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { createReplica, type EmbeddedReplica } from '../../replica/index.js';
import { encodeBookmark } from '../../rpc/bookmark.js';
import { VitessError } from '../../rpc/errors.js';
import { clientFor, endpointOf, type ClientFlags } from './context.js';

export interface ReplicaFlags extends ClientFlags {
  engine: 'pglite' | 'libsql';
  path?: string;
  tables?: string;
  once?: boolean;
}

/** How often the running replica checks whether its LSN moved. */
const REPORT_MS = 1000;

/** `lsn 12 (-40@3 40-80@2 …) streaming`: the sum of the shards' LSNs, then each one. */
export function replicaLine(r: EmbeddedReplica): string {
  const s = r.status;
  return `lsn ${r.lsn} (${Object.entries(s.lsns)
    .map(([shard, lsn]) => `${shard}@${lsn}`)
    .join(' ')}) ${s.state}${s.error ? `: ${s.error}` : ''}`;
}

/** Where the local database goes under `dir`. */
function localPath(dir: string, engine: ReplicaFlags['engine'], keyspace: string): string {
  mkdirSync(dir, { recursive: true });
  return join(dir, engine === 'libsql' ? `${keyspace}.db` : `${keyspace}.pgdata`);
}

export async function replicaCommand(flags: ReplicaFlags, cmd: Command): Promise<void> {
  const keyspace = flags.keyspace ?? process.env.VITESS_KEYSPACE ?? 'main';
  const tables = flags.tables
    ?.split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  const started = performance.now();
  const replica = await createReplica({
    endpoint: endpointOf(cmd),
    keyspace,
    engine: flags.engine,
    ...(flags.path && { path: localPath(flags.path, flags.engine, keyspace) }),
    ...(tables?.length && { tables }),
  });
  try {
    const where = flags.path ? `${flags.engine} at ${flags.path}` : `${flags.engine} in memory`;
    process.stderr.write(`replica of ${keyspace} (${where}) ready in ${Math.round(performance.now() - started)} ms\n`);
    if (flags.once) {
      // Everything the primaries have committed as of now, as a bookmark to wait for.
      const status = await clientFor(cmd, { keyspace }).status();
      const ks = status.keyspaces.find((k) => k.name === keyspace);
      if (!ks) throw new VitessError('NOT_FOUND', `no keyspace "${keyspace}"`);
      await replica.waitFor(encodeBookmark(Object.fromEntries(ks.shards.map((s) => [`${keyspace}/${s.shard}`, s.lsn]))));
      process.stdout.write(`${replicaLine(replica)}\n`);
      return;
    }
    process.stdout.write(`${replicaLine(replica)}\n`);
    await new Promise<void>((resolve, reject) => {
      let last = replica.lsn;
      const timer = setInterval(() => {
        if (replica.status.state === 'failed') return finish(new VitessError('UNAVAILABLE', `the replica stopped: ${replica.status.error ?? 'unknown error'}`));
        if (replica.lsn === last) return;
        last = replica.lsn;
        process.stdout.write(`${replicaLine(replica)}\n`);
      }, REPORT_MS);
      const finish = (e?: unknown) => {
        clearInterval(timer);
        if (e) reject(e);
        else resolve();
      };
      process.once('SIGINT', () => finish());
      process.once('SIGTERM', () => finish());
    });
  } finally {
    await replica.close();
  }
}
