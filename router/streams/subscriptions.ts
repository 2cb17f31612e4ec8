/**
 * Change streams (`KeyspaceSession.changes`, docs/subscriptions.md). Pull-based and stateless:
 * each call reads one bounded page from the shards' logs after the caller's position, filters
 * it, merges the shards (per-shard LSN order kept) and returns it with the position after it.
 * VTGate keeps nothing between calls and a primary only serves bounded pulls, so a slow
 * consumer costs nothing but log retention. With nothing to deliver, a call long-polls the
 * shards (`waitFor`) up to `waitMs`.
 */
import { isDdl, type Change, type LogRecord } from '../../rpc/changes.js';
import type { Stub, TabletApi } from '../../rpc/do-api.js';
import { asVitessError, VitessError } from '../../rpc/errors.js';
import { inRange, parseKeyRange, type KeyRange } from '../../rpc/keyspace/keyrange.js';
import { decodePosition, encodePosition, isPosition, resumeAt, type ShardCursor } from '../../rpc/position.js';
import type { ChangesPage, ChangesRequest, WireChangeEvent } from '../../rpc/protocol.js';
import type { Row } from '../../rpc/results.js';
import { fromRpc, toRpc, toWire, type RpcValue, type WireValue } from '../../rpc/values.js';
import { checkReadable, type Visibility } from '../access/visibility.js';
import { observeStream } from '../ops/metrics.js';
import { tableRouting } from '../planner/route.js';
import { MemorySchema } from '../planner/schema.js';
import { engineKind, type Topology } from '../topology.js';
import { keyspaceIdFor } from '../vindex/vindex.js';
import type { KeyspaceVSchema } from '../vschema.js';

/** The tablet's log surface as a stream reads it. */
type LogTablet = Pick<TabletApi, 'pull' | 'waitFor' | 'schema'>;

export const STREAM_LIMITS = {
  defaultEvents: 500,
  maxEvents: 5_000,
  defaultBytes: 1 << 20,
  maxBytes: 8 << 20,
  /** A shard's pull gets at least this share of the byte budget. */
  minShardBytes: 64 << 10,
  maxWaitMs: 25_000,
  /** Pull rounds per call when everything read is filtered out (the position still advances). */
  maxRounds: 16,
} as const;

export interface ShardScope {
  shard: string;
  /** The key range filter cuts through this shard: rows are checked one by one. */
  partial: boolean;
}

const tablet = (topology: Topology, keyspace: string, shard: string): Stub<LogTablet> => topology.tablet(keyspace, shard);

function stringList(v: unknown, field: string): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string'))
    throw new VitessError('INVALID', `subscription option "${field}" must be an array of strings`);
  return v as string[];
}

function bounded(v: unknown, field: string, dflt: number, min: number, max: number): number {
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new VitessError('INVALID', `subscription option "${field}" must be a number`);
  return Math.min(max, Math.max(min, Math.floor(v)));
}

// Key-range bounds compared as 16 hex digits; an open end sorts after every id.
const lo = (b: string): string => b.padEnd(16, '0');
const hi = (b: string): string => (b === '' ? 'g' : b.padEnd(16, '0'));

/** The shards a request reads, in key order, and which of them the key range only partly covers. */
export function shardScope(ks: KeyspaceVSchema, req: ChangesRequest): ShardScope[] {
  const wanted = stringList(req.shards, 'shards');
  for (const s of wanted ?? []) {
    if (!ks.shards.includes(s)) throw new VitessError('NOT_FOUND', `keyspace "${ks.name}" has no shard "${s}" (shards: ${ks.shards.join(' ')})`);
  }
  let kr: KeyRange | undefined;
  if (req.keyRange !== undefined && req.keyRange !== null) {
    const parsed = typeof req.keyRange === 'string' ? parseKeyRange(req.keyRange) : 'subscription option "keyRange" must be a string such as "40-80"';
    if (typeof parsed === 'string') throw new VitessError('INVALID', parsed);
    kr = parsed;
  }
  const out: ShardScope[] = [];
  for (const shard of ks.shards) {
    if (wanted && !wanted.includes(shard)) continue;
    if (!kr) {
      out.push({ shard, partial: false });
      continue;
    }
    const r = parseKeyRange(shard) as KeyRange;
    if (!(lo(r.start) < hi(kr.end) && lo(kr.start) < hi(r.end))) continue;
    out.push({ shard, partial: !(lo(kr.start) <= lo(r.start) && hi(r.end) <= hi(kr.end)) });
  }
  if (!out.length) throw new VitessError('INVALID', `the subscription selects no shard of keyspace "${ks.name}" (shards: ${ks.shards.join(' ')})`);
  return out;
}

const rpcRow = (row: Row): Record<string, RpcValue> => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, toRpc(v)]));

/** The next page of `keyspace`'s change stream after `req.from` (counted in router/ops/metrics.ts). */
/** `vis`: what the caller's token may see (router/access/visibility.ts); absent = everything. */
export function changesPage(topology: Topology, keyspace: string, req: ChangesRequest, vis?: Visibility): Promise<ChangesPage> {
  return observeStream(String(keyspace), () => readPage(topology, keyspace, req, vis));
}

async function readPage(topology: Topology, keyspace: string, req: ChangesRequest, vis?: Visibility): Promise<ChangesPage> {
  if (!req || typeof req !== 'object')
    throw new VitessError('INVALID', 'changes() takes { from, tables?, shards?, keyRange?, ddl?, maxEvents?, maxBytes?, waitMs? }');
  const ks = topology.keyspace(keyspace);
  const scope = shardScope(ks, req);
  const tables = stringList(req.tables, 'tables');
  const tableSet = tables && new Set(tables);
  for (const t of tables ?? []) checkReadable(vis, t);
  const maxEvents = bounded(req.maxEvents, 'maxEvents', STREAM_LIMITS.defaultEvents, 1, STREAM_LIMITS.maxEvents);
  const maxBytes = bounded(req.maxBytes, 'maxBytes', STREAM_LIMITS.defaultBytes, 1, STREAM_LIMITS.maxBytes);
  const waitMs = bounded(req.waitMs, 'waitMs', 0, 0, STREAM_LIMITS.maxWaitMs);
  const deadline = Date.now() + waitMs;
  const shardBytes = Math.max(STREAM_LIMITS.minShardBytes, Math.floor(maxBytes / scope.length));
  const logOf = (shard: string) => tablet(topology, keyspace, shard);

  // ---- where to start ----
  const from = req.from;
  let carry: Record<string, ShardCursor> = {};
  const cursors: Record<string, ShardCursor> = {};
  if (from === 'beginning') {
    for (const s of scope) cursors[s.shard] = 0;
  } else if (from === 'now') {
    const heads = await Promise.all(scope.map((s) => logOf(s.shard).waitFor(0, 0)));
    scope.forEach((s, i) => {
      cursors[s.shard] = heads[i]!;
    });
  } else if (isPosition(from)) {
    const p = decodePosition(from);
    if (p.keyspace !== keyspace) throw new VitessError('INVALID', `the position is one of keyspace "${p.keyspace}", not "${keyspace}"`);
    carry = p.shards;
    // A shard the position does not name (the filter grew) is read from the beginning: nothing is lost.
    for (const s of scope) cursors[s.shard] = p.shards[s.shard] ?? 0;
  } else {
    throw new VitessError('INVALID', `subscription option "from" must be "now", "beginning" or an event's position, not ${JSON.stringify(from)?.slice(0, 40)}`);
  }
  const position = () => encodePosition({ keyspace, shards: { ...carry, ...cursors } });
  const start = position();

  // The schema, only when a key range cuts through a shard (rows are placed by their vindex).
  let schema: Promise<MemorySchema> | undefined;
  const loadSchema = () =>
    (schema ??= logOf(scope[0]!.shard)
      .schema(engineKind(ks))
      .then((ts) => new MemorySchema(Object.fromEntries(ts.map((t) => [t.name, { primaryKey: t.primaryKey, columns: t.columns }])))));
  const kr = req.keyRange ?? undefined;
  const inKeyRange = async (c: Extract<Change, { table: string }>): Promise<boolean> => {
    const routing = tableRouting(ks, await loadSchema(), c.table);
    // A reference table is on every shard; an unknown table's placement cannot be told: keep.
    if (routing.kind === 'reference' || !routing.vindex) return true;
    const v = c.row?.[routing.vindex.column] ?? c.key[routing.vindex.column];
    if (v === undefined) return true; // a delete whose key does not carry the vindex column
    const id = keyspaceIdFor(routing.vindex, v);
    return id === undefined || inRange(id, kr!);
  };

  const toEvents = async (s: ShardScope, records: LogRecord[], fromLsn: number, skip: number): Promise<WireChangeEvent[]> => {
    const out: WireChangeEvent[] = [];
    for (const r of records) {
      const of = r.changes.length;
      for (let seq = r.lsn === fromLsn ? skip : 0; seq < of; seq++) {
        const recorded = r.changes[seq]!;
        const base = { shard: s.shard, lsn: r.lsn, seq, of, ts: r.ts, txid: r.txid };
        if (isDdl(recorded)) {
          if (req.ddl === true && (!vis || vis.ddl(recorded.ddl))) out.push({ ...base, op: 'ddl', ddl: recorded.ddl });
          continue;
        }
        if (tableSet && !tableSet.has(recorded.table)) continue;
        const c = vis ? vis.change(recorded) : recorded;
        if (!c) continue;
        if (s.partial && !(await inKeyRange(c))) continue;
        out.push({
          ...base,
          op: c.op,
          table: c.table,
          row: rpcRow(c.row ?? c.key),
          ...(c.op !== 'insert' && { oldKey: rpcRow(c.key) }),
          ...(c.json && { json: c.json }),
        });
      }
    }
    return out;
  };

  const heads: Record<string, number> = {};
  for (let round = 1; ; round++) {
    // ---- pull every shard after its cursor ----
    const pulled = await Promise.all(
      scope.map(async (s) => {
        const { fromLsn, skip } = resumeAt(cursors[s.shard]!);
        try {
          const r = await logOf(s.shard).pull(fromLsn, { maxRecords: maxEvents, maxBytes: shardBytes });
          return { s, fromLsn, skip, ...r };
        } catch (e) {
          const err = asVitessError(e);
          if (err.code === 'NOT_FOUND' && err.details.limit === 'log retention') return { s, behind: err };
          throw err;
        }
      }),
    );
    const behind = pulled.filter((p) => 'behind' in p);
    if (behind.length) {
      const shards = behind.map((p) => p.s.shard);
      const now = await Promise.all(shards.map((shard) => logOf(shard).waitFor(0, 0)));
      shards.forEach((shard, i) => {
        cursors[shard] = now[i]!;
      });
      throw new VitessError(
        'NOT_FOUND',
        `the subscription fell behind the change log of shard ${shards.join(', ')} of keyspace "${keyspace}": the changes after its position were trimmed (${behind[0]!.behind!.message}). Re-read the current state with queries, then resume from the position in details.restartFrom`,
        { limit: 'log retention', shards, restartFrom: position() },
      );
    }

    // ---- filter, per shard in LSN order ----
    const queues: { s: ShardScope; events: WireChangeEvent[]; end: number | undefined }[] = [];
    for (const p of pulled) {
      if ('behind' in p) continue;
      const { s, records, lastLsn } = p;
      heads[s.shard] = lastLsn;
      const c = cursors[s.shard]!;
      if ((typeof c === 'number' ? c : c[0]) > lastLsn) {
        throw new VitessError(
          'INVALID',
          `the position is ahead of shard ${s.shard}'s change log (its newest LSN is ${lastLsn}): it was not issued by this deployment`,
        );
      }
      queues.push({ s, events: await toEvents(s, records, p.fromLsn, p.skip), end: records.at(-1)?.lsn });
    }

    // ---- merge: oldest commit first, each shard's own order kept; at most maxEvents ----
    const events: WireChangeEvent[] = [];
    const taken = queues.map(() => 0);
    while (events.length < maxEvents) {
      let best = -1;
      queues.forEach((q, i) => {
        const head = q.events[taken[i]!];
        if (head && (best < 0 || head.ts < queues[best]!.events[taken[best]!]!.ts)) best = i;
      });
      if (best < 0) break;
      events.push(queues[best]!.events[taken[best]!++]!);
    }
    queues.forEach((q, i) => {
      const next = q.events[taken[i]!];
      if (!next) {
        // Everything read from this shard is delivered or filtered out.
        if (q.end !== undefined) cursors[q.s.shard] = q.end;
      } else {
        // Cut before `next`: everything before it in its record is delivered or filtered out.
        cursors[q.s.shard] = next.seq === 0 ? next.lsn - 1 : [next.lsn, next.seq];
      }
    });

    if (events.length || round >= STREAM_LIMITS.maxRounds) return { start, events, position: position(), heads };
    const atHead = scope.every((s) => {
      const c = cursors[s.shard]!;
      return typeof c === 'number' && c >= (heads[s.shard] ?? 0);
    });
    if (!atHead) continue; // only filtered-out records so far: read on
    const remaining = deadline - Date.now();
    if (remaining <= 0) return { start, events, position: position(), heads };
    // ---- long poll: until any shard commits past its head, or the deadline ----
    const waits = scope.map((s) => logOf(s.shard).waitFor(heads[s.shard]! + 1, remaining));
    for (const w of waits) w.catch(() => undefined);
    await Promise.race(waits);
  }
}

const wireRow = (row: Record<string, RpcValue>): Record<string, WireValue> => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, toWire(fromRpc(v))]));

/**
 * `GET /changes?keyspace=main&from=beginning&tables=a,b&shards=-40,40-80&keyRange=40-80&ddl=1&max=500&waitMs=0`
 * for curl and other languages: one page as JSON, values in the tagged wire encoding. Resume
 * with `from=` the page's `position` once every event of the page was handled.
 */
export async function changesJson(topology: Topology, url: URL, vis?: Visibility): Promise<Response> {
  const q = url.searchParams;
  const list = (k: string) => (q.has(k) ? q.get(k)!.split(',').filter(Boolean) : undefined);
  const num = (k: string) => (q.has(k) ? Number(q.get(k)) : undefined);
  const page = await changesPage(
    topology,
    q.get('keyspace') ?? 'main',
    {
      from: q.get('from') ?? 'now',
      tables: list('tables'),
      shards: list('shards'),
      keyRange: q.get('keyRange') ?? undefined,
      ddl: ['1', 'true'].includes(q.get('ddl') ?? ''),
      maxEvents: num('max'),
      maxBytes: num('maxBytes'),
      waitMs: num('waitMs'),
    },
    vis,
  );
  return Response.json({
    ...page,
    events: page.events.map((e) => ({ ...e, ...(e.row && { row: wireRow(e.row) }), ...(e.oldKey && { oldKey: wireRow(e.oldKey) }) })),
  });
}
