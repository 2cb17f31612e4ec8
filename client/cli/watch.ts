/**
 * `vitess watch <table…>`: prints the keyspace's change stream live (client.subscribe), one line
 * per row change, until Ctrl-C or `--limit` events. On stop it prints the position to resume from.
 */
import type { Command } from 'commander';
import { VitessError } from '../../rpc/errors.js';
import { rowToWire, type SqlValue } from '../../rpc/values.js';
import type { ChangeEvent } from '../subscription.js';
import { clientFor, type ClientFlags } from './context.js';

export interface WatchFlags extends ClientFlags {
  from?: string;
  limit?: string;
  json?: boolean;
}

type Row = Record<string, SqlValue>;

/** One event as a line: time, shard, LSN, operation, table, row (values in the JSON wire encoding). */
export function eventLine(ev: ChangeEvent<Row>, json = false): string {
  const row = ev.row ? rowToWire(ev.row) : null;
  const oldKey = ev.oldKey ? rowToWire(ev.oldKey) : undefined;
  if (json)
    return JSON.stringify({
      shard: ev.shard,
      lsn: ev.lsn,
      op: ev.op,
      table: ev.table,
      row,
      ...(oldKey && { oldKey }),
      ts: ev.ts,
      txid: ev.txid,
      position: ev.position,
    });
  const time = new Date(ev.ts).toISOString().slice(11, 23);
  return `${time}  ${ev.shard.padEnd(6)} lsn ${String(ev.lsn).padEnd(5)} ${ev.op.padEnd(6)} ${ev.table} ${JSON.stringify(row)}${oldKey ? ` (was ${JSON.stringify(oldKey)})` : ''}`;
}

export async function watchCommand(tables: string[], flags: WatchFlags, cmd: Command): Promise<void> {
  const limit = flags.limit === undefined ? Infinity : Number(flags.limit);
  if (limit !== Infinity && !(Number.isInteger(limit) && limit > 0))
    throw new VitessError('INVALID', `--limit must be a positive integer, not "${flags.limit}"`);
  const client = clientFor(cmd, flags);
  const sub = client.subscribe<Row>({ ...(tables.length && { tables }), from: flags.from ?? 'now' });
  let stopped = false;
  const stop = () => {
    stopped = true;
    void sub.close();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  let seen = 0;
  try {
    await sub.ready;
    process.stderr.write(`watching ${tables.length ? tables.join(', ') : 'every table'} in ${client.keyspace} from ${flags.from ?? 'now'} (Ctrl-C to stop)\n`);
    for await (const ev of sub) {
      process.stdout.write(`${eventLine(ev, flags.json)}\n`);
      if (++seen >= limit) break;
    }
  } catch (e) {
    if (!stopped) throw e; // stopping cuts the pending pull: not a failure
  } finally {
    await sub.close();
  }
  if (sub.position) process.stderr.write(`resume with: --from ${sub.position}\n`);
}
