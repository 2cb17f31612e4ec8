/**
 * Bearer-token verification at VTGate (docs/security.md): JWTs checked with `jose`, algorithms
 * pinned per key kind, `exp` required, `aud`/`iss` when configured. Keys come from the Worker's
 * secrets: `VITESS_JWT_SECRET` (HS256), `VITESS_JWT_PUBLIC_KEY` (a PEM or a JWK) or
 * `VITESS_JWKS_URL` (rotation by `kid`). No key configured: every request fails closed.
 */
import { createLocalJWKSet, createRemoteJWKSet, importJWK, importSPKI, jwtVerify, type JWTVerifyGetKey, type JWTVerifyOptions } from 'jose';
import { VitessError } from '../../rpc/errors.js';
import { BEARER_PROTOCOL } from '../../rpc/protocol.js';
import { grantsOf } from './claims.js';
import type { Grants } from './grants.js';

export interface AuthEnv {
  VITESS_JWT_SECRET?: string;
  VITESS_JWT_PUBLIC_KEY?: string;
  VITESS_JWKS_URL?: string;
  VITESS_JWT_AUDIENCE?: string;
  VITESS_JWT_ISSUER?: string;
}

/** A verified caller: what it may do, and until when (seconds since the epoch). */
export interface Access {
  grants: Grants;
  exp: number;
  sub?: string;
}

const ASYMMETRIC = ['EdDSA', 'ES256', 'RS256'];

interface Verifier {
  key: Uint8Array | JWTVerifyGetKey;
  algorithms: string[];
}

// One verifier per key configuration per isolate: a JWKS is fetched once and refreshed by jose.
const verifiers = new Map<string, Verifier>();

function publicKeyGetter(text: string): JWTVerifyGetKey {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    const jwk = JSON.parse(trimmed) as { keys?: unknown[] };
    if (Array.isArray(jwk.keys)) return createLocalJWKSet(jwk as Parameters<typeof createLocalJWKSet>[0]);
    return (header) => importJWK(jwk as Parameters<typeof importJWK>[0], header.alg) as ReturnType<JWTVerifyGetKey>;
  }
  return (header) => importSPKI(trimmed, header.alg ?? '');
}

function verifier(env: AuthEnv): Verifier {
  const id = `${env.VITESS_JWT_SECRET ?? ''}\n${env.VITESS_JWT_PUBLIC_KEY ?? ''}\n${env.VITESS_JWKS_URL ?? ''}`;
  let v = verifiers.get(id);
  if (v) return v;
  if (env.VITESS_JWKS_URL) v = { key: createRemoteJWKSet(new URL(env.VITESS_JWKS_URL)), algorithms: ASYMMETRIC };
  else if (env.VITESS_JWT_PUBLIC_KEY) v = { key: publicKeyGetter(env.VITESS_JWT_PUBLIC_KEY), algorithms: ASYMMETRIC };
  else if (env.VITESS_JWT_SECRET) v = { key: new TextEncoder().encode(env.VITESS_JWT_SECRET), algorithms: ['HS256'] };
  else
    throw new VitessError(
      'UNAUTHENTICATED',
      'VTGate has no key to verify tokens: set VITESS_JWT_SECRET, VITESS_JWT_PUBLIC_KEY or VITESS_JWKS_URL (wrangler secret put; docs/security.md)',
    );
  verifiers.set(id, v);
  return v;
}

// Verified tokens per isolate, until they expire: a token's signature is checked once, not on
// every request of a busy client (the bench's auth-on ÷ auth-off figure).
const verified = new Map<string, Access>();
const VERIFIED_MAX = 10_000;

/** Verifies a bearer token; throws UNAUTHENTICATED (401) with the reason. */
export async function verifyToken(token: string | undefined, env: AuthEnv): Promise<Access> {
  if (!token) throw new VitessError('UNAUTHENTICATED', 'no token: send Authorization: Bearer <JWT> (vitess token create; docs/security.md)');
  const v = verifier(env);
  const cacheKey = `${env.VITESS_JWT_AUDIENCE ?? ''}\n${env.VITESS_JWT_ISSUER ?? ''}\n${token}`;
  const hit = verified.get(cacheKey);
  if (hit) return checkExpiry(hit);
  const opts: JWTVerifyOptions = {
    algorithms: v.algorithms,
    requiredClaims: ['exp'],
    ...(env.VITESS_JWT_AUDIENCE && { audience: env.VITESS_JWT_AUDIENCE }),
    ...(env.VITESS_JWT_ISSUER && { issuer: env.VITESS_JWT_ISSUER }),
  };
  let payload: Record<string, unknown>;
  try {
    payload = (await jwtVerify(token, v.key as Uint8Array, opts)).payload;
  } catch (e) {
    throw new VitessError('UNAUTHENTICATED', `invalid token: ${(e as Error).message}`);
  }
  let grants: Grants;
  try {
    grants = grantsOf(payload.vt);
  } catch (e) {
    throw new VitessError('UNAUTHENTICATED', `invalid token: claim "vt" is malformed (${(e as Error).message.replace(/\s+/g, ' ')})`);
  }
  const access: Access = { grants, exp: payload.exp as number, ...(typeof payload.sub === 'string' && { sub: payload.sub }) };
  if (verified.size >= VERIFIED_MAX) verified.clear();
  verified.set(cacheKey, access);
  return access;
}

/** A long-lived session re-checks its token's expiry on every call. */
export function checkExpiry(a: Access): Access {
  if (Date.now() / 1000 >= a.exp) throw new VitessError('UNAUTHENTICATED', 'token expired: reconnect with a fresh one');
  return a;
}

/**
 * The bearer token of a request: the Authorization header, else (WebSocket) the subprotocol
 * `vitess.bearer.<JWT>`, else the `vitess_token` cookie that `POST /login` sets for VTGate's own
 * pages (same-site only; cross-origin requests pass the origin allowlist first).
 */
export function bearerOf(req: Request): string | undefined {
  const h = req.headers.get('authorization');
  if (h) return /^Bearer\s+(\S+)$/i.exec(h)?.[1];
  for (const p of (req.headers.get('sec-websocket-protocol') ?? '').split(',')) {
    const t = p.trim();
    if (t.startsWith(BEARER_PROTOCOL)) return t.slice(BEARER_PROTOCOL.length);
  }
  return /(?:^|;\s*)vitess_token=([^;\s]+)/.exec(req.headers.get('cookie') ?? '')?.[1];
}

/** The cookie that holds a verified token for VTGate's pages, until the token expires. */
export function tokenCookie(token: string, access: Access, secure: boolean): string {
  const maxAge = Math.max(0, Math.floor(access.exp - Date.now() / 1000));
  return `vitess_token=${token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAge}${secure ? '; Secure' : ''}`;
}

/** Admin-only routes and calls. */
export function requireAdmin(g: Grants, what: string): void {
  if (!g.admin) throw new VitessError('FORBIDDEN', `${what} needs an admin token`);
}
