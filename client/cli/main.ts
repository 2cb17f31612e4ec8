#!/usr/bin/env node
/**
 * The `vitess` command (package.json `bin`): talks to VTGate over the client SDK. One file per
 * command; this one wires them to commander and turns any failure into one line on stderr and
 * exit code 1 (docs/cli.md).
 */
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { endpointOf, errorLine } from './context.js';
import { explainCommand } from './explain.js';
import { loadCommand } from './load.js';
import { proxyCommand } from './proxy.js';
import { replicaCommand } from './replica.js';
import { sqlCommand } from './sql.js';
import { statusCommand } from './status.js';
import { resolveToken, tokenCreateCommand } from './token.js';
import { watchCommand } from './watch.js';

/** The package's version: package.json is three levels up from dist/client/cli, two from client/cli. */
function version(): string {
  for (const up of ['../../../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(up, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === '@dotdo/vitess') return pkg.version ?? '0.0.0';
    } catch {
      /* not there: try the next */
    }
  }
  return '0.0.0';
}

const keyspace = () => new Option('-k, --keyspace <name>', 'keyspace (default: $VITESS_KEYSPACE or main)');
const reads = (cmd: Command) =>
  cmd
    .addOption(new Option('-c, --consistency <mode>', 'read consistency').choices(['strong', 'session', 'eventual']))
    .option('-r, --region <region>', 'replica region to read from')
    .option('-b, --bookmark <bookmark>', 'read at least what this bookmark covers (from --json output)');

const program = new Command('vitess')
  .description('Vitess.do from the command line: SQL, status, plans, change streams, bulk loads and embedded replicas')
  .version(version())
  .option('-e, --endpoint <url>', 'VTGate URL (default: $VITESS_ENDPOINT or http://localhost:8787)')
  .option('-t, --token <jwt>', 'the token to send (default: $VITESS_TOKEN; for a localhost endpoint, an admin token from .dev.vars)')
  .hook('preAction', async (_program, cmd) => {
    if (cmd.parent?.name() === 'token') return;
    await resolveToken((program.opts() as { token?: string }).token, endpointOf(cmd));
  })
  .showSuggestionAfterError()
  .configureOutput({ outputError: (text, write) => write(`vitess: ${text.replace(/^error: /, '').trim()}\n`) });

reads(
  program
    .command('sql', { isDefault: true })
    .description('run one statement and print its rows; without SQL, an interactive shell (statements end with ;)')
    .argument('[sql]', 'a statement, Postgres dialect, with $1, $2 … for parameters')
    .argument('[params...]', 'parameters: integers, JSON values ("42" is text, {"a":1} is JSON, {"$ts":"…"} a timestamp), else text')
    .addOption(keyspace())
    .option('--json', 'print the result as JSON (values in the tagged wire encoding)'),
).action(sqlCommand);

program
  .command('status')
  .description('keyspaces, shards with key ranges, primary LSNs, replicas with region and lag')
  .option('--json', 'print the status as JSON')
  .action(statusCommand);

program
  .command('explain')
  .description('print the plan VTGate would run for a statement, without running it')
  .argument('<sql>', 'the statement')
  .argument('[params...]', 'parameters, as for sql')
  .addOption(keyspace())
  .option('--json', 'print { plan, lines } as JSON')
  .action(explainCommand);

program
  .command('watch')
  .description('print the change stream of tables live (every table when none is named)')
  .argument('[tables...]', 'tables to watch')
  .addOption(keyspace())
  .option('--from <position>', 'now, beginning, or a position printed by an earlier watch', 'now')
  .option('-n, --limit <events>', 'stop after this many events')
  .option('--json', 'one JSON object per event')
  .action(watchCommand);

program
  .command('load')
  .description('bulk insert a CSV (with a header row) or JSON Lines file, routed by vindex through VTGate')
  .argument('<table>', 'the table to insert into')
  .argument('<file>', 'file.csv or file.jsonl')
  .addOption(keyspace())
  .addOption(new Option('--format <format>', 'file format (default: from the extension)').choices(['csv', 'jsonl']))
  .option('--batch <rows>', 'rows per request', '500')
  .option('--concurrency <n>', 'requests in flight', '4')
  .action(loadCommand);

program
  .command('replica')
  .description('keep an embedded replica (PGlite or libSQL) in sync and report its LSN')
  .addOption(new Option('--engine <engine>', 'local engine').choices(['pglite', 'libsql']).makeOptionMandatory())
  .option('--path <dir>', 'where the local database lives (default: in memory)')
  .addOption(keyspace())
  .option('--tables <tables>', 'comma-separated tables to replicate (default: all)')
  .option('--once', 'catch up once, print the LSN and exit')
  .action(replicaCommand);

program
  .command('proxy')
  .description('a local Postgres server that forwards to VTGate: psql, node-postgres and ORMs connect with the token as password (docs/proxy.md)')
  .option('-p, --port <port>', 'TCP port to listen on', '5432')
  .option('--host <host>', 'address to listen on', '127.0.0.1')
  .addOption(new Option('-c, --consistency <mode>', 'read consistency').choices(['strong', 'session', 'eventual']))
  .option('-r, --region <region>', 'replica region to read from')
  .action(proxyCommand);

const collect = (v: string, prev: string[] = []) => [...prev, v];
program
  .command('token')
  .description('tokens for VTGate (docs/security.md)')
  .command('create')
  .description('print one signed token (HS256, with $VITESS_JWT_SECRET or .dev.vars), alone, on stdout')
  .option('--admin', 'everything: every keyspace and table, internal ones included, /log, /metrics, /errors')
  .option('--keyspace <name>', 'a keyspace the token may use (repeat for more; default: all)', collect)
  .option('--read-only', 'reads only: no DML, DDL or transactions')
  .option('--tables <a,b>', 'the tables the token may touch (default: all but internal ones)')
  .option('--row <TABLE.COLUMN=VALUE>', 'only rows whose column has this value (repeat for more tables)', collect)
  .option('--ttl <duration>', 'lifetime, e.g. 30m, 1h, 7d', '1h')
  .option('--sub <subject>', "the token's subject (who it is for)")
  .option('--aud <audience>', 'audience (checked when VTGate sets VITESS_JWT_AUDIENCE)')
  .option('--iss <issuer>', 'issuer (checked when VTGate sets VITESS_JWT_ISSUER)')
  .action(tokenCreateCommand);

try {
  await program.parseAsync();
} catch (e) {
  process.stderr.write(`${errorLine(e, (program.opts() as { endpoint?: string }).endpoint ?? process.env.VITESS_ENDPOINT ?? 'http://localhost:8787')}\n`);
  process.exitCode = 1;
}
// Nothing may keep the process alive once the command is done (an idle keep-alive socket, a
// long poll the server still holds open).
process.exit();
