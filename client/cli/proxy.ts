/**
 * `vitess proxy`: a local Postgres server in front of VTGate, so psql, node-postgres, ORMs and
 * GUI tools connect (client/proxy/, docs/proxy.md). The password is the token the proxy holds.
 */
import type { Command } from 'commander';
import { decodeJwt } from 'jose';
import { VitessError } from '../../rpc/errors.js';
import type { Consistency } from '../../rpc/protocol.js';
import { startProxy } from '../proxy/pg-server.js';
import { endpointOf } from './context.js';

export interface ProxyFlags {
  port: string;
  host: string;
  consistency?: Consistency;
  region?: string;
}

/** Whether the token is the admin token the CLI signed itself with the local secret (token.ts resolveToken). */
function mintedLocally(token: string): boolean {
  try {
    return decodeJwt(token).sub === 'vitess-cli-local';
  } catch {
    return false;
  }
}

export async function proxyCommand(flags: ProxyFlags, cmd: Command): Promise<void> {
  const port = Number(flags.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new VitessError('INVALID', `--port must be a TCP port (0-65535), not "${flags.port}"`);
  const token = process.env.VITESS_TOKEN;
  if (!token) throw new VitessError('INVALID', 'vitess proxy needs a token (--token or VITESS_TOKEN): Postgres clients give it as their password');
  if (!(globalThis as { WebSocket?: unknown }).WebSocket) throw new VitessError('INVALID', 'vitess proxy needs Node 22 or newer (a global WebSocket)');
  const endpoint = endpointOf(cmd);
  const proxy = await startProxy({
    endpoint,
    token,
    host: flags.host,
    port,
    // A Postgres client expects to read what any connection committed: the primaries, unless asked otherwise.
    consistency: flags.consistency ?? 'strong',
    ...(flags.region && { region: flags.region }),
    log: (line) => process.stderr.write(`vitess proxy: ${line}\n`),
  });
  const host = proxy.host.includes(':') ? `[${proxy.host}]` : proxy.host;
  // A token the user gave stays theirs to paste; one signed here from the local secret is printed (anyone with .dev.vars could sign it).
  const password = mintedLocally(token) ? encodeURIComponent(token) : '$VITESS_TOKEN';
  process.stdout.write(`vitess proxy: listening on ${host}:${proxy.port}, forwarding to ${endpoint}\n`);
  process.stdout.write(`  connect with: postgres://vitess:${password}@${host}:${proxy.port}/<keyspace>\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await proxy.close();
}
