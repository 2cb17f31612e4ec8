/** `vitess status`: keyspaces, shards with key ranges and primary LSNs, replicas with region and lag. */
import type { Command } from 'commander';
import { clientFor } from './context.js';
import { formatStatus } from './output.js';

export async function statusCommand(flags: { json?: boolean }, cmd: Command): Promise<void> {
  const status = await clientFor(cmd, {}).status();
  process.stdout.write(`${flags.json ? JSON.stringify(status) : formatStatus(status)}\n`);
}
