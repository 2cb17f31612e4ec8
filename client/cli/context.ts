/** What every command shares: the endpoint, the client, and how a failure is reported. */
import type { Command } from 'commander';
import { VitessError } from '../../rpc/errors.js';
import type { Consistency } from '../../rpc/protocol.js';
import { createClient, type VitessClient } from '../client.js';
import { toVitessError } from '../failure.js';

export const DEFAULT_ENDPOINT = 'http://localhost:8787';

export interface ClientFlags {
  keyspace?: string;
  consistency?: string;
  region?: string;
  bookmark?: string;
}

const CONSISTENCY = ['strong', 'session', 'eventual'];

/** VTGate's URL: `--endpoint`, else `VITESS_ENDPOINT`, else http://localhost:8787. */
export function endpointOf(cmd: Command): string {
  const e = (cmd.optsWithGlobals() as { endpoint?: string }).endpoint ?? process.env.VITESS_ENDPOINT ?? DEFAULT_ENDPOINT;
  if (!/^https?:\/\//.test(e)) throw new VitessError('INVALID', `--endpoint must be an http(s) URL, not "${e}"`);
  return e.replace(/\/+$/, '');
}

/** A client for the command's keyspace. `fallback`: the consistency when none is asked for. */
export function clientFor(cmd: Command, flags: ClientFlags, fallback: Consistency = 'strong', timeoutMs?: number): VitessClient {
  const consistency = flags.consistency ?? fallback;
  if (!CONSISTENCY.includes(consistency)) throw new VitessError('INVALID', `--consistency must be strong, session or eventual, not "${consistency}"`);
  return createClient({
    endpoint: endpointOf(cmd),
    keyspace: flags.keyspace ?? process.env.VITESS_KEYSPACE ?? 'main',
    consistency: consistency as Consistency,
    ...(flags.region && { region: flags.region }),
    ...(flags.bookmark && { bookmark: flags.bookmark }),
    // A person is waiting: give up on an unreachable gateway within a second or so.
    retry: { attempts: 3, baseMs: 100, maxMs: 500 },
    ...(timeoutMs !== undefined && { timeoutMs }),
  });
}

/** A failure as the one line the CLI prints: `vitess: CODE: message`. */
export function errorLine(e: unknown, endpoint?: string): string {
  const err = toVitessError(e);
  const where = err.code === 'UNAVAILABLE' && endpoint ? ` (endpoint ${endpoint})` : '';
  return `vitess: ${err.code}: ${err.message.replace(/\s*\n\s*/g, ' ')}${where}`;
}
