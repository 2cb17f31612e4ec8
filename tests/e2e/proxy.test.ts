/**
 * `vitess proxy` end to end: the built CLI in front of the real Worker under `wrangler dev`,
 * driven by node-postgres (extended query protocol, typed parameters, prepared statements,
 * transactions, SQLSTATEs, the password) and by Debian's psql (simple query protocol, several
 * statements in one message, a session on stdin), on a PGlite and a DO SQLite keyspace.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { connect as tcpConnect } from 'node:net';
import pg from 'pg';
import { serialize } from 'pg-protocol';
import type { BackendMessage } from 'pg-protocol/dist/messages';
import { Parser } from 'pg-protocol/dist/parser';
import { MessageFramer } from '../../client/proxy/pg-messages.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleWorker, startWrangler, type WranglerDev } from '../../scripts/wrangler-dev.mjs';
import { checkBuilt, startCli, type Proc } from '../support/cli.js';

const VSCHEMA = {
  keyspaces: [
    { name: 'pg', engine: 'pglite', shards: 2 },
    { name: 'main', engine: 'sqlite', shards: ['-80', '80-'] },
  ],
};
const PSQL = '/usr/bin/psql';

let w: WranglerDev;
let bundle: Awaited<ReturnType<typeof bundleWorker>> | undefined;
let proxy: Proc;
let port: number;
const token = (): string => process.env.VITESS_TOKEN!;

beforeAll(async () => {
  checkBuilt();
  // Bundled once and run as is: edits to the sources meanwhile would reload the Worker and drop the proxy's WebSockets.
  bundle = await bundleWorker('wrangler.jsonc');
  w = await startWrangler({ config: bundle.config, vars: { VSCHEMA: JSON.stringify(VSCHEMA) } });
  // Port 0: the proxy takes a free port and says which.
  proxy = startCli(['proxy', '--port', '0', '--endpoint', w.url]);
  port = Number((await proxy.waitFor(/listening on 127\.0\.0\.1:(\d+)/))[1]);
}, 180_000);

afterAll(async () => {
  await proxy?.stop('SIGTERM');
  await w?.stop();
  bundle?.remove();
});

const connect = async (database: string, password = token()): Promise<pg.Client> => {
  const c = new pg.Client({ host: '127.0.0.1', port, user: 'app', password, database });
  await c.connect();
  return c;
};

/** The SQLSTATE of a failed query. */
const sqlstate = (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'succeeded',
    (e: { code?: string }) => e.code ?? 'no code',
  );

function psql(database: string, args: string[], input?: string) {
  const r = spawnSync(PSQL, ['-h', '127.0.0.1', '-p', String(port), '-U', 'any', '-d', database, '-X', '-v', 'ON_ERROR_STOP=1', '-At', ...args], {
    env: { ...process.env, PGPASSWORD: token(), PGCONNECT_TIMEOUT: '20' },
    encoding: 'utf8',
    timeout: 60_000,
    ...(input !== undefined && { input }),
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The cells of a DataRow message, as bytes. */
function cells(frame: Buffer): (Buffer | null)[] {
  let at = 7;
  return Array.from({ length: frame.readInt16BE(5) }, () => {
    const len = frame.readInt32BE(at);
    at += 4;
    if (len < 0) return null;
    at += len;
    return frame.subarray(at - len, at);
  });
}

/**
 * A connection driven message by message (what node-postgres never sends: Describe of a
 * statement, binary results, Execute with a row limit), read by node-postgres's own parser.
 */
async function rawConnection(database: string) {
  const socket = tcpConnect(port, '127.0.0.1');
  // Each message keeps its bytes too: pg-protocol's parser has no binary mode for DataRow cells.
  const inbox: { m: BackendMessage; frame: Buffer }[] = [];
  let wake = () => {};
  const framer = new MessageFramer();
  const parser = new Parser();
  socket.on('data', (chunk: Buffer) => {
    for (const frame of framer.push(chunk)) parser.parse(frame, (m) => inbox.push({ m, frame }));
    wake();
  });
  /** The messages up to and including the next one named `name`. */
  const until = async (name: string): Promise<{ m: BackendMessage; frame: Buffer }[]> => {
    const out: { m: BackendMessage; frame: Buffer }[] = [];
    for (;;) {
      while (inbox.length > 0) {
        const got = inbox.shift()!;
        out.push(got);
        if (got.m.name === name) return out;
      }
      await new Promise<void>((resolve) => (wake = resolve));
    }
  };
  socket.write(serialize.startup({ user: 'raw', database }));
  const auth = (await until('authenticationMD5Password')).at(-1)!.m as unknown as { salt: Buffer };
  const inner = createHash('md5').update(`${token()}raw`).digest('hex');
  socket.write(
    serialize.password(
      `md5${createHash('md5')
        .update(Buffer.concat([Buffer.from(inner), auth.salt]))
        .digest('hex')}`,
    ),
  );
  await until('readyForQuery');
  return {
    send: (...messages: Buffer[]) => socket.write(Buffer.concat(messages)),
    until,
    close: () => socket.end(serialize.end()),
  };
}

describe.each(['pg', 'main'])('keyspace %s', (keyspace) => {
  it('node-postgres: DDL, typed parameters both ways, prepared statements, RETURNING and command tags', async () => {
    const c = await connect(keyspace);
    try {
      const ddl = await c.query(
        'CREATE TABLE accounts (id BIGINT PRIMARY KEY, email TEXT NOT NULL, balance NUMERIC, active BOOLEAN, opened TIMESTAMPTZ, meta JSONB, photo BYTEA, big BIGINT)',
      );
      expect(ddl.command).toBe('CREATE');
      const opened = new Date('2024-05-01T10:00:00.250Z');
      const ins = await c.query(
        'INSERT INTO accounts (id, email, balance, active, opened, meta, photo, big) VALUES ($1, $2, $3, $4, $5, $6, $7, $8), (2, $9, 0, false, NULL, NULL, NULL, NULL)',
        [1, 'ada@example.com', '10.25', true, opened, { tags: ['a', 'b'] }, Buffer.from([0, 1, 255]), '9007199254740993', 'bob@example.com'],
      );
      expect([ins.command, ins.rowCount]).toEqual(['INSERT', 2]);

      const sel = await c.query('SELECT id, email, balance, active, opened, meta, photo, big FROM accounts WHERE id = $1', [1]);
      expect(sel.fields.map((f) => [f.name, f.dataTypeID])).toEqual([
        ['id', 20],
        ['email', 25],
        ['balance', 1700],
        ['active', 16],
        ['opened', 1184],
        ['meta', 3802],
        ['photo', 17],
        ['big', 20],
      ]);
      expect(sel.rows).toEqual([
        {
          id: '1',
          email: 'ada@example.com',
          balance: '10.25',
          active: true,
          opened,
          meta: { tags: ['a', 'b'] },
          photo: Buffer.from([0, 1, 255]),
          big: '9007199254740993',
        },
      ]);
      expect([sel.command, sel.rowCount]).toEqual(['SELECT', 1]);

      // A named statement is parsed once and bound again.
      const byId = (id: number) => c.query({ name: 'by-id', text: 'SELECT email FROM accounts WHERE id = $1', values: [id] });
      expect((await byId(1)).rows).toEqual([{ email: 'ada@example.com' }]);
      expect((await byId(2)).rows).toEqual([{ email: 'bob@example.com' }]);
      expect((await byId(3)).rowCount).toBe(0);

      const upd = await c.query('UPDATE accounts SET active = $1 WHERE id = $2 RETURNING id, active', [false, 1]);
      expect([upd.command, upd.rowCount, upd.rows]).toEqual(['UPDATE', 1, [{ id: '1', active: false }]]);
      const all = await c.query('SELECT id, active FROM accounts ORDER BY id');
      expect(all.rows).toEqual([
        { id: '1', active: false },
        { id: '2', active: false },
      ]);
      const del = await c.query('DELETE FROM accounts WHERE id = $1', [2]);
      expect([del.command, del.rowCount]).toEqual(['DELETE', 1]);
    } finally {
      await c.end();
    }
  });

  it('node-postgres: a transaction that commits and one that rolls back, with the transaction status of each ReadyForQuery', async () => {
    const c = await connect(keyspace);
    const other = await connect(keyspace);
    try {
      await c.query('CREATE TABLE ledger (id BIGINT PRIMARY KEY, amount BIGINT NOT NULL)');
      expect(c.getTransactionStatus()).toBe('I');
      await c.query('BEGIN');
      expect(c.getTransactionStatus()).toBe('T');
      await c.query('INSERT INTO ledger (id, amount) VALUES ($1, $2)', [1, 100]);
      await c.query('UPDATE ledger SET amount = amount + $1 WHERE id = $2', [5, 1]);
      await c.query('COMMIT');
      expect(c.getTransactionStatus()).toBe('I');
      expect((await other.query('SELECT amount FROM ledger WHERE id = 1')).rows).toEqual([{ amount: '105' }]);

      await c.query('BEGIN');
      await c.query('INSERT INTO ledger (id, amount) VALUES ($1, $2)', [2, 7]);
      expect((await c.query('SELECT amount FROM ledger WHERE id = $1', [2])).rows).toEqual([{ amount: '7' }]);
      await c.query('ROLLBACK');
      expect(c.getTransactionStatus()).toBe('I');
      expect((await c.query('SELECT count(*) AS n FROM ledger')).rows).toEqual([{ n: '1' }]);
      expect((await other.query('SELECT id FROM ledger WHERE id = 2')).rowCount).toBe(0);
    } finally {
      await c.end();
      await other.end();
    }
  });

  it('node-postgres: errors carry their SQLSTATE; a failed transaction refuses statements until ROLLBACK', async () => {
    const c = await connect(keyspace);
    try {
      await c.query('CREATE TABLE uniq (id BIGINT PRIMARY KEY, code TEXT)');
      await c.query('INSERT INTO uniq (id, code) VALUES ($1, $2)', [1, 'a']);
      const dup = await c.query('INSERT INTO uniq (id, code) VALUES ($1, $2)', [1, 'b']).catch((e: pg.DatabaseError) => e);
      expect(dup).toMatchObject({ code: '23505', table: 'uniq' });
      expect(await sqlstate(c.query('SELEC 1'))).toBe('42601');
      expect(await sqlstate(c.query('SELECT * FROM nosuch'))).toBe('42P01');
      expect(await sqlstate(c.query('SAVEPOINT s1'))).toBe('0A000');

      await c.query('BEGIN');
      expect(await sqlstate(c.query('INSERT INTO uniq (id, code) VALUES ($1, $2)', [1, 'c']))).toBe('23505');
      expect(c.getTransactionStatus()).toBe('E');
      expect(await sqlstate(c.query('SELECT 1 AS one'))).toBe('25P02');
      await c.query('ROLLBACK');
      expect(c.getTransactionStatus()).toBe('I');
      expect((await c.query('SELECT code FROM uniq WHERE id = $1', [1])).rows).toEqual([{ code: 'a' }]);
    } finally {
      await c.end();
    }
  });

  it('extended protocol by hand: Describe of a statement, binary results, Execute with a row limit, skipping to Sync after an error', async () => {
    const raw = await rawConnection(keyspace);
    try {
      raw.send(
        serialize.query('CREATE TABLE raw_t (id BIGINT PRIMARY KEY, price NUMERIC, at TIMESTAMPTZ)'),
        serialize.query("INSERT INTO raw_t (id, price, at) VALUES (1, 2.5, '2024-01-01T00:00:00Z'), (2, 3, NULL), (3, 4, NULL)"),
      );
      await raw.until('readyForQuery');
      await raw.until('readyForQuery');

      raw.send(
        serialize.parse({ name: 'q', text: 'SELECT id, price, at FROM raw_t WHERE id >= $1 ORDER BY id', types: [20] }),
        serialize.describe({ type: 'S', name: 'q' }),
        serialize.bind({ statement: 'q', portal: 'p', values: ['1'], binary: true }),
        serialize.execute({ portal: 'p', rows: 2 }),
        serialize.execute({ portal: 'p', rows: 2 }),
        serialize.sync(),
      );
      const got = await raw.until('readyForQuery');
      const msgs = got.map((g) => g.m);
      expect(msgs.map((m) => m.name)).toEqual([
        'parseComplete',
        'parameterDescription',
        'rowDescription',
        'bindComplete',
        'dataRow',
        'dataRow',
        'portalSuspended',
        'dataRow',
        'commandComplete',
        'readyForQuery',
      ]);
      const [, params, described] = msgs as unknown as [unknown, { dataTypeIDs: number[] }, { fields: { name: string; dataTypeID: number }[] }];
      expect(params.dataTypeIDs).toEqual([20]);
      expect(described.fields.map((f) => [f.name, f.dataTypeID])).toEqual([
        ['id', 20],
        ['price', 1700],
        ['at', 1184],
      ]);
      const binary = (oid: number) => pg.types.getTypeParser(oid, 'binary') as unknown as (b: Buffer) => unknown;
      const rows = got
        .filter((g) => g.m.name === 'dataRow')
        .map((g) => {
          const [id, price, at] = cells(g.frame);
          return [String(binary(20)(id!)), binary(1700)(price!), at ? binary(1184)(at) : null];
        });
      expect(rows).toEqual([
        ['1', 2.5, new Date('2024-01-01T00:00:00Z')],
        ['2', 3, null],
        ['3', 4, null],
      ]);
      expect((msgs.at(-2) as unknown as { text: string }).text).toBe('SELECT 3');

      // After an error, everything up to Sync is skipped; the next Sync answers.
      raw.send(
        serialize.parse({ text: 'SELEC 1' }),
        serialize.bind({}),
        serialize.execute({}),
        serialize.parse({ text: 'SELECT 1 AS one' }),
        serialize.bind({}),
        serialize.execute({}),
        serialize.sync(),
      );
      const failed = (await raw.until('readyForQuery')).map((g) => g.m);
      expect(failed.map((m) => m.name)).toEqual(['parseComplete', 'bindComplete', 'error', 'readyForQuery']);
      expect(failed[2]).toMatchObject({ code: '42601' });
    } finally {
      raw.close();
    }
  });

  it('refuses a wrong password', async () => {
    const e = await connect(keyspace, 'not-the-token').then(
      (c) => c.end().then(() => undefined),
      (err: pg.DatabaseError) => err,
    );
    expect(e).toMatchObject({ code: '28P01', message: 'password authentication failed for user "app"' });
  });

  it('psql: several statements in one -c, a session on stdin, an error with its SQLSTATE', () => {
    const many = psql(keyspace, [
      '-c',
      "CREATE TABLE notes (id BIGINT PRIMARY KEY, body TEXT NOT NULL); INSERT INTO notes (id, body) VALUES (1, 'one'), (2, 'two'); SELECT id, body FROM notes ORDER BY id",
    ]);
    expect(many.stderr).toBe('');
    expect(many.code).toBe(0);
    expect(many.stdout.trim().split('\n').slice(-2)).toEqual(['1|one', '2|two']);

    const session = psql(
      keyspace,
      [],
      [
        'BEGIN;',
        "UPDATE notes SET body = 'uno' WHERE id = 1;",
        'COMMIT;',
        'BEGIN;',
        'DELETE FROM notes;',
        'ROLLBACK;',
        'SELECT body FROM notes ORDER BY id;',
        'SELECT count(*) FROM notes WHERE id > 1;',
      ].join('\n'),
    );
    expect(session.stderr).toBe('');
    expect(session.stdout.split('\n')).toEqual(['BEGIN', 'UPDATE 1', 'COMMIT', 'BEGIN', 'DELETE 2', 'ROLLBACK', 'uno', 'two', '1', '']);

    const err = psql(keyspace, ['-v', 'VERBOSITY=verbose', '-c', "INSERT INTO notes (id, body) VALUES (1, 'again')"]);
    expect(err.code).toBe(1);
    expect(err.stderr).toMatch(/^ERROR: {2}23505: /);
    const after = psql(keyspace, ['-c', 'SELECT body FROM notes WHERE id = 1']);
    expect(after.stdout).toBe('uno\n');
  });
});
