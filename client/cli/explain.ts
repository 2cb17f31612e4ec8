/** `vitess explain "<sql>"`: the plan VTGate would run, without running it. */
import type { Command } from 'commander';
import { clientFor, type ClientFlags } from './context.js';
import { planLines } from './output.js';
import { runStatement } from './sql.js';
import { parseParam } from './values.js';

export async function explainCommand(sql: string, params: string[], flags: ClientFlags & { json?: boolean }, cmd: Command): Promise<void> {
  const statement = /^\s*explain\b/i.test(sql) ? sql : `EXPLAIN ${sql}`;
  const { result } = await runStatement(clientFor(cmd, flags), statement, params.map(parseParam));
  const lines = planLines(result);
  process.stdout.write(`${flags.json ? JSON.stringify({ plan: result.plan, lines }) : lines.join('\n')}\n`);
}
