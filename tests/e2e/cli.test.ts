/**
 * The `vitess` CLI end to end: the built binary (package.json `bin`, what `npx vitess` runs)
 * against the real Worker under `wrangler dev` (one for the file, fresh state). Every command:
 * sql (table and --json, typed parameters), the shell through stdin and through a
 * pseudo-terminal (with its history file), status, explain, watch, load (CSV and JSON Lines),
 * replica; failures as one line and exit code 1. Also GET /metrics: it parses as Prometheus
 * text and its counters move with the commands.
 */
import { createClient as createLibsql } from '@libsql/client';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import parsePrometheus from 'parse-prometheus-text-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GatewayStatus } from '../../rpc/protocol.js';
import { freePort, startWrangler, type WranglerDev } from '../../scripts/wrangler-dev.mjs';
import { authHeaders } from '../support/auth.js';
import { BIN, checkBuilt, cli, spawnCommand, startCli, systemNode, VERSION, type CliOptions } from '../support/cli.js';

let w: WranglerDev;
const scratch = mkdtempSync(join(tmpdir(), 'vitess-cli-'));
const SHARDS = ['-40', '40-80', '80-c0', 'c0-'];
/** Rows `vitess load` puts in table lt: 600 from CSV, 2 from JSON Lines. */
const N_ROWS = 602;

beforeAll(async () => {
  checkBuilt();
  w = await startWrangler();
});

afterAll(async () => {
  await w?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

const env = (): Record<string, string> => ({ VITESS_ENDPOINT: w.url, VITESS_HISTORY: join(scratch, 'history') });
const vitess = (args: string[], opts: CliOptions = {}) => cli(args, { ...opts, env: { ...env(), ...opts.env } });
const json = async <T>(args: string[], opts: CliOptions = {}): Promise<T> => {
  const r = await vitess([...args, '--json'], opts);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as T;
};

/** Runs a command that must succeed (setup steps). */
async function ok(args: string[], opts: CliOptions = {}): Promise<string> {
  const r = await vitess(args, opts);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout;
}

/** A failed command: exit code 1, nothing on stdout, exactly one line on stderr. */
async function fails(args: string[], opts: CliOptions = {}): Promise<string> {
  const r = await vitess(args, opts);
  expect(r.code).toBe(1);
  expect(r.stdout).toBe('');
  const lines = r.stderr.split('\n').filter(Boolean);
  expect(lines, r.stderr).toHaveLength(1);
  return lines[0]!;
}

interface JsonResult {
  rows: Record<string, unknown>[];
  rowCount: number;
  affected: number;
  plan: string;
  servedBy: { shard: string; role: string; region: string };
  bookmark: string;
}

describe('vitess sql', () => {
  it('is the package bin, with the package version', async () => {
    expect(readFileSync(BIN, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
    const r = await vitess(['--version']);
    expect(r).toEqual({ code: 0, stdout: `${VERSION}\n`, stderr: '' });
  });

  it('creates a table, writes across shards with typed parameters and prints rows as a table', async () => {
    const ddl = await vitess(['sql', 'CREATE TABLE st (id BIGINT PRIMARY KEY, note TEXT, meta JSONB, big BIGINT)']);
    expect(ddl.code).toBe(0);
    expect(ddl.stdout).toMatch(/^\(OK · ddl · primary on -40,40-80,80-c0,c0- · \d+ ms\)\n$/);
    const ins = await vitess([
      'sql',
      'INSERT INTO st (id, note, meta, big) VALUES ($1, $2, $3, $4), (2, $5, NULL, -1), (3, $6, NULL, 0), (4, $7, NULL, 0)',
      '1',
      'one, with a comma',
      '{"tags":["a"]}',
      '9007199254740993',
      '"2"',
      'three',
      'four',
    ]);
    expect(ins.stderr).toBe('');
    expect(ins.stdout).toMatch(/^\(4 rows affected · multi-shard · primary on [-0-9a-f,]+ · \d+ ms\)\n$/);
    const sel = await vitess(['sql', 'SELECT id, note, meta, big FROM st WHERE id = $1', '1']);
    expect(sel.stdout.split('\n').slice(0, 5)).toEqual([
      '┌────┬───────────────────┬────────────────┬──────────────────┐',
      '│ id │ note              │ meta           │ big              │',
      '├────┼───────────────────┼────────────────┼──────────────────┤',
      '│ 1  │ one, with a comma │ {"tags":["a"]} │ 9007199254740993 │',
      '└────┴───────────────────┴────────────────┴──────────────────┘',
    ]);
    expect(sel.stdout).toMatch(/\(1 row · single-shard · primary on (-40|40-80|80-c0|c0-) · \d+ ms\)/);
  });

  it('prints --json with values in the wire encoding, and the plan and who served it', async () => {
    const r = await json<JsonResult>(['sql', 'SELECT id, note, big FROM st ORDER BY id']);
    expect(r.rows).toEqual([
      { id: 1, note: 'one, with a comma', big: { $int8: '9007199254740993' } },
      { id: 2, note: '2', big: -1 },
      { id: 3, note: 'three', big: 0 },
      { id: 4, note: 'four', big: 0 },
    ]);
    expect(r.plan).toBe('scatter');
    expect(r.servedBy).toMatchObject({ role: 'primary', shard: SHARDS.join(',') });
    expect(r.bookmark).toMatch(/^b1\./);
  });

  it('reads a replica with --consistency eventual, and at least a bookmark with --bookmark', async () => {
    const w1 = await json<JsonResult>(['sql', 'UPDATE st SET note = $1 WHERE id = $2', 'updated', '3']);
    expect(w1.affected).toBe(1);
    // A replica starts on its first read (the primary answers meanwhile); with the write's
    // bookmark, whoever answers has the write.
    const served: string[] = [];
    for (let attempt = 0; attempt < 60 && served.at(-1) !== 'replica weur'; attempt++) {
      const r = await json<JsonResult>(['sql', '--bookmark', w1.bookmark, '--region', 'weur', 'SELECT note FROM st WHERE id = $1', '3']);
      expect(r.rows).toEqual([{ note: 'updated' }]);
      served.push(`${r.servedBy.role} ${r.servedBy.region}`);
    }
    expect(served.at(-1)).toBe('replica weur');
  });

  it('fails with one line and exit code 1: bad SQL, unknown table, unknown command, bad option, unreachable gateway', async () => {
    expect(await fails(['sql', 'SELEC 1'])).toMatch(/^vitess: SYNTAX: syntax error at or near "1"/);
    expect(await fails(['sql', 'SELECT * FROM nosuch'])).toMatch(/^vitess: NOT_FOUND: .*nosuch/);
    expect(await fails(['stauts'])).toMatch(/^vitess: INVALID: unknown command "stauts"/);
    expect(await fails(['watch', '--limit', 'x'])).toMatch(/^vitess: INVALID: --limit must be a positive integer/);
    expect(await fails(['status', '--nope'])).toBe("vitess: unknown option '--nope'");
    const closed = `http://127.0.0.1:${await freePort()}`;
    expect(await fails(['status', '--endpoint', closed])).toMatch(new RegExp(`^vitess: UNAVAILABLE: .*\\(endpoint ${closed.replace(/[.]/g, '\\.')}\\)$`));
  });

  it("runs on the machine's own Node too (the package supports Node >= 20)", async () => {
    const node = systemNode();
    expect(node, 'a node on PATH outside node_modules').toBeDefined();
    const r = await vitess(['sql', 'SELECT count(*) AS n FROM st'], { node: node! });
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('│ 4 │');
  });
});

describe('the shell', () => {
  it('reads statements from stdin, across lines, keeps going after an error and exits 1', async () => {
    const r = await vitess([], {
      input: [
        'INSERT INTO st (id, note) VALUES (10,',
        "  'ten; on two lines');",
        'SELECT id, note FROM st WHERE id = 10; SELEC broken;',
        '\\k pg',
        'SELECT 1 + 1 AS two',
      ].join('\n'),
    });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^vitess: SYNTAX: syntax error at or near "broken"/);
    // Read-your-writes inside the session: the SELECT sees the INSERT, whoever serves it.
    expect(r.stdout).toContain('(1 row affected · single-shard');
    expect(r.stdout).toContain('│ 10 │ ten; on two lines │');
    expect(r.stdout).toMatch(/│ two │\n├─+┤\n│ 2 +│/);
  });

  it('in a terminal: prompts, runs, saves history and recalls it with the up arrow', async () => {
    const history = join(scratch, 'pty-history');
    const run = () => spawnCommand('script', ['-qec', `'${process.execPath}' '${BIN}'`, '/dev/null'], { env: { ...env(), VITESS_HISTORY: history } });
    const first = run();
    await first.waitFor(/vitess:main> /);
    first.write('SELECT 41 + 1 AS answer;\r');
    await first.waitFor(/\(1 row · /);
    first.write('\\q\r');
    expect(await first.exited).toBe(0);
    expect(first.stdout).toMatch(/│ 42 +│/);
    expect(readFileSync(history, 'utf8')).toBe('SELECT 41 + 1 AS answer;\n\\q\n');

    const second = run();
    await second.waitFor(/vitess:main> /);
    second.write('\x1b[A\x1b[A\r'); // up twice: past \q to the statement
    await second.waitFor(/│ 42 +│/);
    second.write('\x04'); // Ctrl-D
    expect(await second.exited).toBe(0);
  });
});

describe('vitess status and explain', () => {
  it('prints shards with key ranges, primary LSNs and replicas per region', async () => {
    const r = await vitess(['status']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('keyspace main · sqlite · 4 shards · replicas in wnam, weur');
    expect(r.stdout).toContain('keyspace pg · pglite · 2 shards · replicas in wnam, weur');
    expect(r.stdout).toMatch(/│ 40-80 +│ 0x40 … 0x80 │ do-sqlite │ \d+ +│ wnam: /);
    expect(r.stdout).toMatch(/weur: streaming @\d+, lag \d+ \(\d+ ms\)/); // started by the replica read above
    const status = await json<GatewayStatus>(['status']);
    expect(status.keyspaces.map((k) => [k.name, k.shards.map((s) => s.shard)])).toEqual([
      ['main', SHARDS],
      ['pg', ['-80', '80-']],
    ]);
    expect(status.keyspaces[0]!.shards.every((s) => s.lsn > 0)).toBe(true);
  });

  it('prints the plan without running the statement', async () => {
    const r = await vitess(['explain', 'SELECT note FROM st ORDER BY id DESC LIMIT 2']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Route main → all shards (-40, 40-80, 80-c0, c0-)');
    expect(r.stdout).toContain('MergeSort');
    const del = await json<{ plan: string; lines: string[] }>(['explain', 'DELETE FROM st WHERE id = $1', '1']);
    expect(del.plan).toBe('single-shard');
    expect((await json<JsonResult>(['sql', 'SELECT count(*) AS n FROM st'])).rows).toEqual([{ n: 5 }]); // not deleted
  });
});

describe('vitess watch', () => {
  it('prints changes live until Ctrl-C, then where to resume; --from resumes there', async () => {
    await ok(['sql', 'CREATE TABLE wt (id BIGINT PRIMARY KEY, v TEXT)']);
    const watch = startCli(['watch', 'wt', '--json'], { env: env() });
    await watch.waitFor(/watching wt in main from now/, 'stderr');
    await ok(['sql', "INSERT INTO wt (id, v) VALUES (1, 'a'), (2, 'b')"]);
    await ok(['sql', "UPDATE wt SET v = 'B' WHERE id = 2"]);
    await watch.waitFor(/"op":"update".*\n/, 'stdout', 120_000); // generous: a loaded machine delays pages
    const stopped = await watch.stop('SIGINT');
    expect(stopped.code).toBe(0);
    const events = stopped.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { op: string; table: string; row: unknown; shard: string; lsn: number });
    expect(events.map((e) => [e.op, e.table, e.row]).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)))).toEqual([
      ['insert', 'wt', { id: 1, v: 'a' }],
      ['insert', 'wt', { id: 2, v: 'b' }],
      ['update', 'wt', { id: 2, v: 'B' }],
    ]);
    const from = /resume with: --from (p1\.\S+)/.exec(stopped.stderr)![1]!;

    await ok(['sql', "INSERT INTO wt (id, v) VALUES (3, 'c')"]);
    const resumed = await vitess(['watch', 'wt', '--from', from, '--limit', '1']);
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toMatch(/^\d\d:\d\d:\d\d\.\d{3} {2}\S+ +lsn \d+ +insert wt \{"id":3,"v":"c"\}\n$/);
    const beginning = await vitess(['watch', 'wt', '--from', 'beginning', '--limit', '4', '--json']);
    expect(
      beginning.stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { row: { id: number } }).row.id)
        .sort(),
    ).toEqual([1, 2, 2, 3]);
  });
});

describe('vitess load', () => {
  const N = 600;

  it('loads a CSV through VTGate, each row on the shard of its vindex value, with a rows/s figure', async () => {
    await ok(['sql', 'CREATE TABLE lt (id BIGINT PRIMARY KEY, email TEXT NOT NULL, score REAL, active BOOLEAN, meta JSONB, joined TIMESTAMPTZ)']);
    const lines = ['id,email,score,active,meta,joined'];
    for (let i = 1; i <= N; i++) {
      lines.push(
        `${i},"user${i}@example.com",${i % 7 === 0 ? '' : i / 4},${i % 2 ? 'true' : 'f'},"{""n"":${i},\n""s"":""a,b""}",2024-01-${String((i % 28) + 1).padStart(2, '0')}T00:00:00Z`,
      );
    }
    const file = join(scratch, 'lt.csv');
    writeFileSync(file, `${lines.join('\r\n')}\r\n`);
    const r = await vitess(['load', 'lt', file, '--batch', '200']);
    expect(r.stderr).toBe(''); // no progress bar outside a terminal
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^loaded ${N} rows into main\\.lt in [\\d.]+ s \\(\\d+ rows/s\\)\\n$`));

    expect((await json<JsonResult>(['sql', 'SELECT count(*) AS n, sum(id) AS s FROM lt'])).rows).toEqual([{ n: N, s: String((N * (N + 1)) / 2) }]); // a merged sum is numeric: exact text
    // Lookups by the vindex column go to one shard: each finds its row there.
    const ids = [1, 7, 42, 333, 500, N];
    const shell = await vitess(['--json'], { input: ids.map((id) => `SELECT id, score, active, meta, joined FROM lt WHERE id = ${id};`).join('\n') });
    const results = shell.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as JsonResult);
    expect(results.map((x) => x.plan)).toEqual(ids.map(() => 'single-shard'));
    expect(results.map((x) => x.rows[0])).toEqual(
      ids.map((i) => ({
        id: i,
        score: i % 7 === 0 ? null : i / 4,
        active: i % 2 === 1,
        meta: { $json: { n: i, s: 'a,b' } },
        joined: { $ts: `2024-01-${String((i % 28) + 1).padStart(2, '0')}T00:00:00.000Z` },
      })),
    );
    expect(new Set(results.map((x) => x.servedBy.shard)).size).toBeGreaterThan(1);
  });

  it('loads JSON Lines with tagged values', async () => {
    const file = join(scratch, 'more.jsonl');
    writeFileSync(
      file,
      [
        JSON.stringify({ id: N + 1, email: 'j1@example.com', meta: { a: [1, 2] }, joined: { $ts: '2025-02-03T04:05:06.000Z' } }),
        '',
        JSON.stringify({ id: { $int8: String(N + 2) }, email: 'j2@example.com', active: true }),
      ].join('\n'),
    );
    const r = await vitess(['load', 'lt', file]);
    expect(r.stdout).toMatch(/^loaded 2 rows into main\.lt/);
    const rows = (await json<JsonResult>(['sql', 'SELECT id, meta, joined, active FROM lt WHERE id IN ($1, $2) ORDER BY id', String(N + 1), String(N + 2)]))
      .rows;
    expect(rows).toEqual([
      { id: N + 1, meta: { $json: { a: [1, 2] } }, joined: { $ts: '2025-02-03T04:05:06.000Z' }, active: null },
      { id: N + 2, meta: null, joined: null, active: true },
    ]);
  });

  it('refuses a bad value with its line and column, an unknown column, and an unknown format', async () => {
    const bad = join(scratch, 'bad.csv');
    writeFileSync(bad, 'id,email,score\n9001,a@example.com,1\n9002,b@example.com,lots\n');
    expect(await fails(['load', 'lt', bad])).toMatch(/^vitess: INVALID: .*bad\.csv line 3: column "score" is float4: "lots" is not a float4 value/);
    const unknown = join(scratch, 'unknown.csv');
    writeFileSync(unknown, 'id,nope\n1,2\n');
    expect(await fails(['load', 'lt', unknown])).toMatch(/^vitess: NOT_FOUND: .*table "lt" has no column "nope"/);
    expect(await fails(['load', 'lt', join(scratch, 'data.txt')])).toMatch(/^vitess: INVALID: cannot tell the format/);
  });
});

describe('vitess replica', () => {
  it("--once: copies the keyspace into a local libSQL file up to the primaries' LSNs", async () => {
    const status = await json<GatewayStatus>(['status']);
    const dir = join(scratch, 'replica-once');
    const r = await vitess(['replica', '--engine', 'libsql', '--path', dir, '--once']);
    expect(r.code, r.stderr).toBe(0);
    const main = status.keyspaces.find((k) => k.name === 'main')!;
    const m = /^lsn (\d+) \((.*)\) streaming\n$/.exec(r.stdout)!;
    expect(m, r.stdout).not.toBeNull();
    const applied = Object.fromEntries(
      m[2]!
        .split(' ')
        .map((p) => p.split('@') as [string, string])
        .map(([s, l]) => [s, Number(l)]),
    );
    for (const s of main.shards) expect(applied[s.shard]).toBeGreaterThanOrEqual(s.lsn);
    const db = createLibsql({ url: `file:${join(dir, 'main.db')}` });
    const count = await db.execute('SELECT count(*) AS n FROM lt');
    db.close();
    expect(Number(count.rows[0]!.n)).toBe(N_ROWS);
  });

  it('keeps following and reports each new LSN until Ctrl-C', async () => {
    const replica = startCli(['replica', '--engine', 'libsql', '--path', join(scratch, 'replica-live'), '--tables', 'wt'], { env: env() });
    const first = Number((await replica.waitFor(/^lsn (\d+) /m))[1]);
    await ok(['sql', "INSERT INTO wt (id, v) VALUES (4, 'd')"]);
    await replica.waitFor(new RegExp(`^lsn ${first + 1} \\(`, 'm'));
    const stopped = await replica.stop('SIGINT');
    expect(stopped.code).toBe(0);
    expect(stopped.stderr).toMatch(/^replica of main \(libsql at .*replica-live\) ready in \d+ ms\n$/);
  });
});

describe('GET /metrics', () => {
  const scrape = async () => {
    const res = await fetch(`${w.url}/metrics`, { headers: authHeaders() });
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    return parsePrometheus(await res.text());
  };
  const total = (families: Awaited<ReturnType<typeof scrape>>, name: string, labels: Record<string, string> = {}) =>
    families
      .find((f) => f.name === name)!
      .metrics.filter((s) => Object.entries(labels).every(([k, v]) => s.labels?.[k] === v))
      .reduce((a, s) => a + Number(s.value), 0);

  it('parses as Prometheus text, and its counters move when queries run', async () => {
    const before = await scrape();
    await ok(['sql', 'SELECT id FROM lt WHERE id IN (1, 2, 3)']);
    await ok(['sql', 'SELECT count(*) FROM lt']);
    await vitess(['sql', 'SELEC nothing']);
    await ok(['sql', 'UPDATE lt SET score = 0 WHERE id <= 2']);
    const after = await scrape();
    expect(
      total(after, 'vitess_queries_total', { plan: 'multi-shard', outcome: 'ok' }) -
        total(before, 'vitess_queries_total', { plan: 'multi-shard', outcome: 'ok' }),
    ).toBe(1);
    expect(
      total(after, 'vitess_queries_total', { plan: 'scatter-aggregate', outcome: 'ok' }) -
        total(before, 'vitess_queries_total', { plan: 'scatter-aggregate', outcome: 'ok' }),
    ).toBe(1);
    expect(total(after, 'vitess_queries_total', { outcome: 'SYNTAX' }) - total(before, 'vitess_queries_total', { outcome: 'SYNTAX' })).toBe(1);
    expect(total(after, 'vitess_rows_returned_total', { plan: 'multi-shard' }) - total(before, 'vitess_rows_returned_total', { plan: 'multi-shard' })).toBe(3);
    expect(total(after, 'vitess_rows_affected_total') - total(before, 'vitess_rows_affected_total')).toBe(2);
    expect(after.find((f) => f.name === 'vitess_query_duration_seconds')!.type).toBe('HISTOGRAM');
    expect(after.find((f) => f.name === 'vitess_stream_pages_total')!.metrics.length).toBeGreaterThan(0);
    const lsn = after.find((f) => f.name === 'vitess_shard_lsn')!.metrics;
    expect(lsn.map((s) => `${s.labels!.keyspace}/${s.labels!.shard}`)).toEqual([...SHARDS.map((s) => `main/${s}`), 'pg/-80', 'pg/80-']);
    expect(after.find((f) => f.name === 'vitess_replica_lag_records')!.metrics.some((s) => s.labels!.region === 'weur')).toBe(true);
    const errors = (await (await fetch(`${w.url}/errors`, { headers: authHeaders() })).json()) as { errors: { code: string; sql: string }[] };
    expect(errors.errors[0]).toMatchObject({ code: 'SYNTAX', sql: 'SELEC nothing' });
  });
});

describe('tokens', () => {
  // What a newcomer has: no VITESS_TOKEN, the secret only in the project's .dev.vars.
  const bare = (args: string[], cwd: string) => cli(args, { cwd, env: { ...env(), VITESS_TOKEN: '', VITESS_JWT_SECRET: '' } });

  it('mints itself an admin token from .dev.vars for a localhost endpoint', async () => {
    const dir = mkdtempSync(join(scratch, 'p-'));
    writeFileSync(join(dir, '.dev.vars'), `VITESS_JWT_SECRET=${process.env.VITESS_JWT_SECRET}\n`);
    const r = await bare(['status'], dir);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    // Without the file, nothing to sign with: the gateway says why.
    const none = await bare(['status'], mkdtempSync(join(scratch, 'empty-')));
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/^vitess: UNAUTHENTICATED: .*no token/);
  });

  it('token create prints one token, alone, that VTGate takes with exactly its grants', async () => {
    const made = await vitess(['token', 'create', '--keyspace', 'main', '--read-only', '--ttl', '10m']);
    expect(made.code).toBe(0);
    expect(made.stderr).toBe('');
    expect(made.stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    const t = made.stdout.trim();
    expect((await vitess(['--token', t, 'sql', 'SELECT count(*) AS n FROM lt'])).code).toBe(0);
    const write = await vitess(['--token', t, 'sql', 'DELETE FROM lt']);
    expect(write.code).toBe(1);
    expect(write.stderr).toMatch(/^vitess: FORBIDDEN: /);
    const other = await vitess(['--token', t, 'sql', '-k', 'pg', 'SELECT 1']);
    expect(other.stderr).toMatch(/^vitess: FORBIDDEN: .*keyspace "pg"/);
    const bad = await vitess(['token', 'create', '--row', 'nodot=1']);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toBe('');
  });
});
