/**
 * `vitess token create`: one signed JWT on stdout (docs/security.md, claims). And the local
 * default: the CLI talking to a gateway on this machine mints itself an admin token from the
 * project's `.dev.vars` (written by `npm install`), so a local tour needs no token by hand.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseEnv } from 'node:util';
import { SignJWT } from 'jose';
import { VitessError } from '../../rpc/errors.js';
import { parseRowFlag, VtClaim } from '../../router/access/claims.js';

/** The HS256 secret: `VITESS_JWT_SECRET`, else `.dev.vars` in the current directory. */
export function localSecret(): string | undefined {
  if (process.env.VITESS_JWT_SECRET) return process.env.VITESS_JWT_SECRET;
  try {
    return parseEnv(readFileSync(join(process.cwd(), '.dev.vars'), 'utf8')).VITESS_JWT_SECRET || undefined;
  } catch {
    return undefined;
  }
}

export interface TokenFlags {
  admin?: boolean;
  keyspace?: string[];
  readOnly?: boolean;
  tables?: string;
  row?: string[];
  ttl?: string;
  sub?: string;
  aud?: string;
  iss?: string;
}

/** Signs a token with the local HS256 secret. */
export async function mintToken(flags: TokenFlags): Promise<string> {
  const secret = localSecret();
  if (!secret)
    throw new VitessError('INVALID', 'no secret to sign with: set VITESS_JWT_SECRET or run in a project whose .dev.vars has one (npm install writes it)');
  let vt: VtClaim;
  try {
    vt = VtClaim.parse({
      ...(flags.admin && { admin: true }),
      ...(flags.keyspace?.length && { keyspaces: flags.keyspace }),
      ...(flags.readOnly && { readOnly: true }),
      ...(flags.tables && {
        tables: flags.tables
          .split(',')
          .map((t) => t.trim())
          .filter(Boolean),
      }),
      ...(flags.row?.length && { rows: Object.fromEntries(flags.row.map(parseRowFlag)) }),
    });
  } catch (e) {
    throw new VitessError('INVALID', `bad token flags: ${(e as Error).message.replace(/\s+/g, ' ')}`);
  }
  if (vt.admin && (vt.keyspaces || vt.readOnly || vt.tables || vt.rows))
    throw new VitessError('INVALID', '--admin grants everything: it takes no --keyspace, --read-only, --tables or --row');
  let jwt = new SignJWT({ vt })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuedAt()
    .setSubject(flags.sub ?? 'vitess-cli');
  if (flags.aud) jwt = jwt.setAudience(flags.aud);
  if (flags.iss) jwt = jwt.setIssuer(flags.iss);
  try {
    jwt = jwt.setExpirationTime(flags.ttl ?? '1h');
  } catch {
    throw new VitessError('INVALID', `--ttl must be a duration such as 30m, 1h or 7d, not "${flags.ttl}"`);
  }
  return jwt.sign(new TextEncoder().encode(secret));
}

export async function tokenCreateCommand(flags: TokenFlags): Promise<void> {
  process.stdout.write(`${await mintToken(flags)}\n`);
}

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * The token every other command sends: `--token`, else `VITESS_TOKEN`, else (a gateway on this
 * machine, a local secret at hand) a fresh admin token. Set as `VITESS_TOKEN`, which the client
 * and embedded replicas read.
 */
export async function resolveToken(flag: string | undefined, endpoint: string): Promise<void> {
  if (flag) process.env.VITESS_TOKEN = flag;
  if (process.env.VITESS_TOKEN) return;
  if (!LOCAL_HOSTS.has(new URL(endpoint).hostname) || !localSecret()) return;
  process.env.VITESS_TOKEN = await mintToken({ admin: true, ttl: '12h', sub: 'vitess-cli-local' });
}
