/**
 * The interactive SQL shell (`vitess` or `vitess sql` without SQL). Statements end with `;` and
 * may span lines; one client for the whole session, so its bookmark carries read-your-writes from
 * statement to statement (reads default to `session` consistency). In a terminal: prompts and
 * a history file (`VITESS_HISTORY`, default ~/.vitess_history). Piped: reads statements from
 * stdin, prints each result, and exits non-zero if any statement failed.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import type { VitessClient } from '../client.js';
import { clientFor, errorLine } from './context.js';
import { formatResult, resultJson } from './output.js';
import { runStatement, type SqlFlags } from './sql.js';
import { isBlank, splitStatements } from './split.js';

const HISTORY_SIZE = 1000;

const HELP = `Statements end with ";" and may span lines.
  \\k <keyspace>   switch keyspace (the bookmark comes along)
  \\q              quit (or Ctrl-D)
  \\?              this help`;

/** History lines, newest first as readline wants them; the file keeps them oldest first. */
function loadHistory(file: string): string[] {
  try {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean).reverse().slice(0, HISTORY_SIZE);
  } catch {
    return [];
  }
}

export async function shell(flags: SqlFlags, cmd: Command): Promise<void> {
  const interactive = process.stdin.isTTY === true && process.stdout.isTTY === true;
  let keyspace = flags.keyspace ?? process.env.VITESS_KEYSPACE ?? 'main';
  let client: VitessClient = clientFor(cmd, { ...flags, keyspace }, 'session');
  const historyFile = process.env.VITESS_HISTORY ?? join(homedir(), '.vitess_history');
  const prompt = () => `vitess:${keyspace}> `;
  const rl = createInterface({
    input: process.stdin,
    output: process.stdout,
    terminal: interactive,
    prompt: prompt(),
    ...(interactive && { history: loadHistory(historyFile), historySize: HISTORY_SIZE, removeHistoryDuplicates: true }),
  });
  let buffer = '';
  let failed = false;
  if (interactive) {
    // Written at once (a small file): the process may exit right after the last line.
    rl.on('history', (h: string[]) => {
      try {
        writeFileSync(historyFile, `${[...h].reverse().join('\n')}\n`);
      } catch {
        /* history is a convenience */
      }
    });
    rl.on('SIGINT', () => {
      if (!buffer) return rl.close();
      buffer = '';
      process.stdout.write('\n');
      rl.setPrompt(prompt());
      rl.prompt();
    });
    process.stdout.write(
      `Connected to ${client.keyspace} at ${(cmd.optsWithGlobals() as { endpoint?: string }).endpoint ?? process.env.VITESS_ENDPOINT ?? 'http://localhost:8787'}. \\? for help.\n`,
    );
    rl.prompt();
  }

  const run = async (sql: string) => {
    try {
      const { result, ms } = await runStatement(client, sql);
      process.stdout.write(`${flags.json ? resultJson(result) : formatResult(result, ms)}\n`);
    } catch (e) {
      failed = true;
      process.stderr.write(`${errorLine(e)}\n`);
    }
  };

  /** `\k`, `\q`, `\?`; false when the shell should end. */
  const meta = (line: string): boolean => {
    const [command, arg] = line.trim().split(/\s+/);
    if (command === '\\q') return false;
    if (command === '\\k' && arg) {
      const bookmark = client.bookmark;
      keyspace = arg;
      client = clientFor(cmd, { ...flags, keyspace, bookmark }, 'session');
      rl.setPrompt(prompt());
    } else if (command === '\\?') {
      process.stdout.write(`${HELP}\n`);
    } else {
      failed = true;
      process.stderr.write(`vitess: INVALID: unknown shell command "${line.trim()}" (\\? for help)\n`);
    }
    return true;
  };

  for await (const line of rl) {
    if (!buffer.trim() && line.trim().startsWith('\\')) {
      if (!meta(line)) break;
    } else {
      const { statements, rest } = splitStatements(`${buffer}${line}\n`);
      buffer = isBlank(rest) ? '' : rest;
      for (const s of statements) await run(s);
    }
    if (interactive) {
      rl.setPrompt(buffer ? '        -> ' : prompt());
      rl.prompt();
    }
  }
  rl.close();
  // End of input ends the last statement, `;` or not.
  if (!isBlank(buffer)) await run(buffer.trim());
  if (interactive) process.stdout.write('\n');
  else if (failed) process.exitCode = 1;
}
