/**
 * Token verification (router/access/token.ts) and signing (`vitess token create`,
 * client/cli/token.ts): pinned algorithms, required `exp`, audience and issuer, public keys and
 * key sets with rotation by `kid`, and the claims `token create` writes.
 */
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, decodeJwt } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { mintToken } from '../../client/cli/token.js';
import { parseRowFlag } from '../../router/access/claims.js';
import { bearerOf, verifyToken } from '../../router/access/token.js';
import { failure } from '../support/errors.js';

const SECRET = 'unit-test-secret-unit-test-secret-0123';
const key = new TextEncoder().encode(SECRET);
const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

afterEach(() => {
  delete process.env.VITESS_JWT_SECRET;
});

describe('verifyToken with VITESS_JWT_SECRET', () => {
  const env = { VITESS_JWT_SECRET: SECRET };

  it('takes an HS256 token with exp and reads its grants', async () => {
    const t = await new SignJWT({ vt: { keyspaces: ['main'], readOnly: true, tables: ['Orders'], rows: { 'orders.tenant_id': 42 } } })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime('1h')
      .sign(key);
    const a = await verifyToken(t, env);
    expect(a.grants).toEqual({
      admin: false,
      keyspaces: ['main'],
      readOnly: true,
      tables: ['orders'],
      rows: [{ table: 'orders', column: 'tenant_id', value: 42 }],
    });
  });

  it.each([
    ['no token', async () => undefined],
    ['alg none', async () => `${b64({ alg: 'none' })}.${b64({ exp: Math.floor(Date.now() / 1000) + 60 })}.`],
    ['no exp', async () => new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).sign(key)],
    [
      'expired',
      async () =>
        new SignJWT({})
          .setProtectedHeader({ alg: 'HS256' })
          .setExpirationTime(Math.floor(Date.now() / 1000) - 10)
          .sign(key),
    ],
    ['HS512 with the same secret', async () => new SignJWT({}).setProtectedHeader({ alg: 'HS512' }).setExpirationTime('1h').sign(key)],
    [
      'another secret',
      async () =>
        new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(new TextEncoder().encode('another-secret-another-secret-0000')),
    ],
    ['a malformed vt claim', async () => new SignJWT({ vt: { admin: 'yes' } }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(key)],
  ])('refuses %s with UNAUTHENTICATED', async (_why, make) => {
    expect((await failure(verifyToken(await make(), env))).code).toBe('UNAUTHENTICATED');
  });

  it('checks audience and issuer when they are configured', async () => {
    const t = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setAudience('a').setIssuer('i').setExpirationTime('1h').sign(key);
    await verifyToken(t, { ...env, VITESS_JWT_AUDIENCE: 'a', VITESS_JWT_ISSUER: 'i' });
    expect((await failure(verifyToken(t, { ...env, VITESS_JWT_AUDIENCE: 'b' }))).code).toBe('UNAUTHENTICATED');
    expect((await failure(verifyToken(t, { ...env, VITESS_JWT_ISSUER: 'j' }))).code).toBe('UNAUTHENTICATED');
  });

  it('fails closed without any key', async () => {
    const t = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(key);
    expect((await failure(verifyToken(t, {}))).message).toMatch(/VITESS_JWT_SECRET/);
  });
});

describe('verifyToken with public keys', () => {
  it('takes EdDSA from a PEM, and refuses HS256 signed with the PEM text as a secret', async () => {
    const { publicKey, privateKey } = await generateKeyPair('EdDSA', { extractable: true });
    const pem = await exportSPKI(publicKey);
    const env = { VITESS_JWT_PUBLIC_KEY: pem };
    const good = await new SignJWT({ vt: { admin: true } }).setProtectedHeader({ alg: 'EdDSA' }).setExpirationTime('1h').sign(privateKey);
    expect((await verifyToken(good, env)).grants.admin).toBe(true);
    // The classic key-confusion attack: HMAC with the public key as the secret.
    const confused = await new SignJWT({ vt: { admin: true } })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(pem));
    expect((await failure(verifyToken(confused, env))).code).toBe('UNAUTHENTICATED');
  });

  it('picks the key of a JWK set by kid, so keys rotate', async () => {
    const old = await generateKeyPair('ES256', { extractable: true });
    const next = await generateKeyPair('ES256', { extractable: true });
    const jwks = {
      keys: [
        { ...(await exportJWK(old.publicKey)), kid: 'old', alg: 'ES256' },
        { ...(await exportJWK(next.publicKey)), kid: 'new', alg: 'ES256' },
      ],
    };
    const env = { VITESS_JWT_PUBLIC_KEY: JSON.stringify(jwks) };
    for (const [kid, k] of [
      ['old', old],
      ['new', next],
    ] as const) {
      const t = await new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid }).setExpirationTime('1h').sign(k.privateKey);
      await verifyToken(t, env);
    }
    const dropped = { VITESS_JWT_PUBLIC_KEY: JSON.stringify({ keys: [jwks.keys[1]] }) };
    const oldToken = await new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid: 'old' }).setExpirationTime('1h').sign(old.privateKey);
    expect((await failure(verifyToken(oldToken, dropped))).code).toBe('UNAUTHENTICATED');
  });
});

describe('bearerOf', () => {
  it('reads the header, the WebSocket subprotocol or the cookie, never the URL', () => {
    expect(bearerOf(new Request('http://x/?token=u', { headers: { authorization: 'Bearer h' } }))).toBe('h');
    expect(bearerOf(new Request('http://x/', { headers: { 'sec-websocket-protocol': 'vitess.rpc, vitess.bearer.p' } }))).toBe('p');
    expect(bearerOf(new Request('http://x/', { headers: { cookie: 'a=1; vitess_token=c' } }))).toBe('c');
    expect(bearerOf(new Request('http://x/?token=u'))).toBeUndefined();
  });
});

describe('vitess token create', () => {
  it('writes the claims its flags say, signed with VITESS_JWT_SECRET', async () => {
    process.env.VITESS_JWT_SECRET = SECRET;
    const t = await mintToken({
      keyspace: ['main', 'pg'],
      readOnly: true,
      tables: 'orders, users',
      row: ['orders.tenant_id=42', 'users.org=acme'],
      ttl: '15m',
      aud: 'x',
    });
    const claims = decodeJwt(t);
    expect(claims.vt).toEqual({
      keyspaces: ['main', 'pg'],
      readOnly: true,
      tables: ['orders', 'users'],
      rows: { 'orders.tenant_id': 42, 'users.org': 'acme' },
    });
    expect(claims.exp! - claims.iat!).toBe(15 * 60);
    expect((await verifyToken(t, { VITESS_JWT_SECRET: SECRET, VITESS_JWT_AUDIENCE: 'x' })).grants.readOnly).toBe(true);
  });

  it('refuses flags that do not make sense, naming them', async () => {
    process.env.VITESS_JWT_SECRET = SECRET;
    expect((await failure(mintToken({ admin: true, readOnly: true }))).message).toMatch(/--admin/);
    expect((await failure(mintToken({ ttl: 'forever' }))).message).toMatch(/--ttl/);
    expect((await failure(mintToken({ tables: 'ok, bad-name' }))).code).toBe('INVALID');
    expect(() => parseRowFlag('orders.tenant_id')).toThrow(/TABLE.COLUMN=VALUE/);
    expect(parseRowFlag("orders.item=' OR 1=1 --")).toEqual(['orders.item', "' OR 1=1 --"]);
    expect(parseRowFlag('orders.code=007')).toEqual(['orders.code', '007']);
  });
});
