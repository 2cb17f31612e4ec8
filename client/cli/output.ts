/**
 * How the CLI prints results and status, pure: text in and out, tables by cli-table3 (no
 * colours, so output is the same in a terminal, a pipe and a test).
 */
import Table from 'cli-table3';
import type { GatewayStatus } from '../../rpc/protocol.js';
import { rowToWire, type SqlValue } from '../../rpc/values.js';
import type { StatementResult } from '../results.js';
import { formatCell } from './values.js';

/** No rule between rows, unless cells span lines (`ruled`). */
const COMPACT = { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' };

function table(head: string[], rows: string[][], ruled = false): string {
  const t = new Table({ head, style: { head: [], border: [] }, ...(!ruled && { chars: COMPACT }) });
  t.push(...rows);
  const lines = t.toString().split('\n');
  if (ruled) return lines.join('\n');
  // The compact table still rules off its header: the top border with inner joints.
  const rule = lines[0]!.replace('┌', '├').replace(/┬/g, '┼').replace('┐', '┤');
  return [lines[0], lines[1], rule, ...lines.slice(2)].join('\n');
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** One line under a result: how many rows, the plan, who served it. */
export function summary(r: StatementResult, ms?: number): string {
  const what = r.fields.length > 0 ? plural(r.rowCount, 'row') : r.affected > 0 || r.plan !== 'ddl' ? `${plural(r.affected, 'row')} affected` : 'OK';
  const by = r.servedBy;
  const where = by ? `${by.role}${by.role === 'replica' ? ` ${by.region}` : ''}${by.shard ? ` on ${by.shard}` : ''}` : '';
  return `(${[what, r.plan, where, ms !== undefined ? `${Math.round(ms)} ms` : ''].filter(Boolean).join(' · ')})`;
}

/** A result as a table (when it has columns) and its summary line. */
export function formatResult(r: StatementResult, ms?: number): string {
  const rows = r.rows as Record<string, SqlValue>[];
  const grid =
    r.fields.length > 0
      ? `${table(
          r.fields.map((f) => f.name),
          rows.map((row) => r.fields.map((f) => formatCell(row[f.name]))),
        )}\n`
      : '';
  return `${grid}${summary(r, ms)}`;
}

/** A result as one JSON document, values in the tagged wire encoding (rpc/values.ts). */
export function resultJson(r: StatementResult): string {
  return JSON.stringify({
    rows: (r.rows as Record<string, SqlValue>[]).map(rowToWire),
    fields: r.fields,
    rowCount: r.rowCount,
    affected: r.affected,
    plan: r.plan,
    servedBy: r.servedBy,
    bookmark: r.bookmark,
  });
}

/** The lines of an `EXPLAIN` result. */
export const planLines = (r: StatementResult): string[] => (r.rows as Record<string, SqlValue>[]).map((row) => formatCell(Object.values(row)[0]));

interface ReplicaView {
  region?: unknown;
  state?: unknown;
  appliedLsn?: unknown;
  lagRecords?: unknown;
  lagMs?: unknown;
  error?: unknown;
}

function replicaText(r: ReplicaView): string {
  if (typeof r.appliedLsn !== 'number') return `${String(r.region)}: ${String(r.state)}`;
  return `${String(r.region)}: ${String(r.state)} @${r.appliedLsn}, lag ${Number(r.lagRecords ?? 0)} (${Number(r.lagMs ?? 0)} ms)`;
}

/** `vitess status`: per keyspace, its shards with key range, primary LSN and replicas. */
export function formatStatus(status: GatewayStatus): string {
  return status.keyspaces
    .map((ks) => {
      const head = `keyspace ${ks.name} · ${ks.engine} · ${plural(ks.shards.length, 'shard')} · replicas in ${ks.regions.length ? ks.regions.join(', ') : 'no region'}`;
      const rows = ks.shards.map((s) => [
        s.shard,
        `${s.start ? `0x${s.start}` : 'min'} … ${s.end ? `0x${s.end}` : 'max'}`,
        s.engine,
        String(s.lsn),
        ((Array.isArray(s.replicas) ? s.replicas : []) as ReplicaView[]).map(replicaText).join('\n'),
      ]);
      return `${head}\n${table(['shard', 'key range', 'engine', 'primary LSN', 'replicas (region: state @LSN, lag)'], rows, true)}`;
    })
    .join('\n\n');
}
