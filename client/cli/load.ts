/**
 * `vitess load <table> <file.csv|file.jsonl>`: bulk insert through VTGate. Rows are read as a
 * stream (csv-parse for CSV, a line reader for JSON Lines), typed by the table's columns, and
 * sent as multi-row INSERTs — VTGate splits each by row to the shard of its vindex value — in
 * batches of `--batch` rows, `--concurrency` batches in flight. A progress bar on stderr (in a
 * terminal) and a rows/s figure at the end.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { parse } from 'csv-parse';
import { asVitessError, VitessError } from '../../rpc/errors.js';
import type { Field, SqlValue } from '../../rpc/values.js';
import type { VitessClient } from '../client.js';
import type { Statement } from '../results.js';
import { toVitessError } from '../failure.js';
import { clientFor, type ClientFlags } from './context.js';
import { csvValue, jsonValue } from './values.js';
import { insertValues, quoteIdent, rowsPerStatement } from '../../engines/dialect/sql-text.js';

export interface LoadFlags extends ClientFlags {
  format?: string;
  batch?: string;
  concurrency?: string;
}

type Row = Record<string, SqlValue>;

/** A record read from the file, and how far into the file it ends (for the progress bar). */
interface Read {
  row: Row;
  line: number;
  bytes: number;
}

/** How long one request (a batch of INSERTs) may take. */
const REQUEST_TIMEOUT_MS = 120_000;

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;
const ident = (name: string): string => (/^[a-z_][a-z0-9_]*$/.test(name) ? name : quoteIdent(name));

function positiveInt(text: string | undefined, dflt: number, flag: string): number {
  if (text === undefined) return dflt;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new VitessError('INVALID', `${flag} must be a positive integer, not "${text}"`);
  return n;
}

async function* csvRows(file: string, fields: Map<string, Field>, table: string): AsyncGenerator<Read> {
  const parser = createReadStream(file).pipe(parse({ columns: true, bom: true, skip_empty_lines: true, info: true }));
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: Record<string, string>; info: { bytes: number; lines: number } }>) {
      const row: Row = {};
      for (const [col, text] of Object.entries(record)) {
        const f = fields.get(col);
        if (!f)
          throw new VitessError('NOT_FOUND', `${file}: table "${table}" has no column "${col}" (columns: ${[...fields.keys()].join(', ')})`, {
            table,
            columns: [col],
          });
        try {
          row[col] = csvValue(text, f.type, col);
        } catch (e) {
          throw new VitessError('INVALID', `${file} line ${info.lines}: ${asVitessError(e).message}`, { table, columns: [col] });
        }
      }
      yield { row, line: info.lines, bytes: info.bytes };
    }
  } catch (e) {
    if (e instanceof VitessError) throw e;
    throw new VitessError('INVALID', `${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

async function* jsonlRows(file: string, fields: Map<string, Field>, table: string): AsyncGenerator<Read> {
  let bytes = 0;
  let line = 0;
  for await (const text of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
    line++;
    bytes += Buffer.byteLength(text) + 1;
    if (!text.trim()) continue;
    let obj: unknown;
    try {
      obj = JSON.parse(text);
    } catch {
      throw new VitessError('INVALID', `${file} line ${line}: not a JSON object`);
    }
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new VitessError('INVALID', `${file} line ${line}: not a JSON object`);
    const row: Row = {};
    for (const [col, v] of Object.entries(obj)) {
      if (!fields.has(col))
        throw new VitessError('NOT_FOUND', `${file} line ${line}: table "${table}" has no column "${col}" (columns: ${[...fields.keys()].join(', ')})`, {
          table,
          columns: [col],
        });
      row[col] = jsonValue(v);
    }
    yield { row, line, bytes };
  }
}

/**
 * Multi-row INSERTs for rows that share their columns, each under the per-statement parameter
 * limit (engines/limits.ts: 100).
 */
export function insertStatements(table: string, rows: Row[]): Statement[] {
  const out: Statement[] = [];
  let i = 0;
  while (i < rows.length) {
    const cols = Object.keys(rows[0 + i]!);
    const key = cols.join('\0');
    const perStatement = rowsPerStatement(Math.max(1, cols.length));
    const group: Row[] = [];
    while (i < rows.length && group.length < perStatement && Object.keys(rows[i]!).join('\0') === key) group.push(rows[i++]!);
    out.push(
      insertValues(
        table,
        cols,
        group.map((row) => cols.map((c) => row[c]!)),
        '',
        ident,
      ),
    );
  }
  return out;
}

async function columns(client: VitessClient, table: string): Promise<Map<string, Field>> {
  const r = await client.query(`SELECT * FROM ${ident(table)} LIMIT 0`);
  return new Map(r.fields.map((f) => [f.name, f]));
}

export async function loadCommand(table: string, file: string, flags: LoadFlags, cmd: Command): Promise<void> {
  if (!IDENT.test(table)) throw new VitessError('INVALID', `"${table}" is not a table name`);
  const format = flags.format ?? (/\.jsonl?$|\.ndjson$/i.test(file) ? 'jsonl' : /\.csv$/i.test(file) ? 'csv' : undefined);
  if (format !== 'csv' && format !== 'jsonl')
    throw new VitessError('INVALID', `cannot tell the format of "${file}": name it .csv or .jsonl, or pass --format csv|jsonl`);
  const batchRows = positiveInt(flags.batch, 500, '--batch');
  const concurrency = positiveInt(flags.concurrency, 4, '--concurrency');
  const size = (
    await stat(file).catch(() => {
      throw new VitessError('NOT_FOUND', `no such file: ${file}`);
    })
  ).size;
  // A request carries many statements, run one after another by VTGate: allow it time on a busy gateway.
  const client = clientFor(cmd, flags, 'strong', REQUEST_TIMEOUT_MS);
  const fields = await columns(client, table);

  const bar = new SingleBar({ stream: process.stderr, format: '{bar} {percentage}% | {rows} rows | {rate} rows/s', hideCursor: true });
  bar.start(size, 0, { rows: 0, rate: 0 });
  const started = performance.now();
  let loaded = 0;
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  const send = (rows: Row[], bytes: number) => {
    const p = client.batch(insertStatements(table, rows)).then(
      () => {
        loaded += rows.length;
        bar.update(bytes, { rows: loaded, rate: Math.round(loaded / ((performance.now() - started) / 1000)) });
      },
      (e: unknown) => {
        failure ??= e;
      },
    );
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  };

  try {
    let pending: Row[] = [];
    for await (const r of format === 'csv' ? csvRows(file, fields, table) : jsonlRows(file, fields, table)) {
      pending.push(r.row);
      if (pending.length < batchRows) continue;
      send(pending, r.bytes);
      pending = [];
      while (inFlight.size >= concurrency) await Promise.race(inFlight);
      if (failure) break;
    }
    if (pending.length && !failure) send(pending, size);
    await Promise.all(inFlight);
  } finally {
    bar.stop();
  }
  const seconds = (performance.now() - started) / 1000;
  if (failure) {
    const e = toVitessError(failure);
    throw new VitessError(e.code, `${e.message} (${loaded} rows loaded before it; batches in flight may be partly applied)`, e.details);
  }
  process.stdout.write(`loaded ${loaded} rows into ${client.keyspace}.${table} in ${seconds.toFixed(2)} s (${Math.round(loaded / seconds)} rows/s)\n`);
}
