/**
 * `vitess sql "<sql>" [params…]`: runs one statement and prints its rows as a table (or `--json`).
 * Without SQL it opens the shell (shell.ts).
 */
import type { Command } from 'commander';
import { VitessError } from '../../rpc/errors.js';
import type { SqlValue } from '../../rpc/values.js';
import type { VitessClient } from '../client.js';
import type { StatementResult } from '../results.js';
import { clientFor, type ClientFlags } from './context.js';
import { formatResult, resultJson } from './output.js';
import { shell } from './shell.js';
import { parseParam } from './values.js';

export interface SqlFlags extends ClientFlags {
  json?: boolean;
}

/** Runs one statement; `batch` returns both rows and the affected count, whatever the statement. */
export async function runStatement(client: VitessClient, sql: string, params: SqlValue[] = []): Promise<{ result: StatementResult; ms: number }> {
  const started = performance.now();
  const [result] = await client.batch([{ sql, params }]);
  return { result: result!, ms: performance.now() - started };
}

export async function sqlCommand(sql: string | undefined, params: string[], flags: SqlFlags, cmd: Command): Promise<void> {
  if (sql === undefined) return shell(flags, cmd);
  // `vitess stauts` reaches this default command: a lone word is a mistyped command, not SQL.
  if (/^[a-z][a-z-]*$/i.test(sql) && !process.argv.slice(2).includes('sql'))
    throw new VitessError('INVALID', `unknown command "${sql}" (see vitess --help; to run it as SQL: vitess sql ${sql})`);
  // One-off statements read the primaries unless asked otherwise: a command run after a write
  // sees it. With --bookmark, replicas that have applied it may answer.
  const client = clientFor(cmd, flags, flags.bookmark ? 'session' : 'strong');
  const { result, ms } = await runStatement(client, sql, params.map(parseParam));
  process.stdout.write(`${flags.json ? resultJson(result) : formatResult(result, ms)}\n`);
}
