// The headers of the client's HTTP batch requests: the token, and `compression: false` asking for
// an uncompressed answer (a client next to the gateway, where compressing costs more than it saves).
import { describe, expect, it } from 'vitest';
import { createClient, type ClientOptions } from '../../client/client.js';
import { VitessError } from '../../rpc/errors.js';

/** The headers of one `status()` call, answered by a refusal so nothing else is needed. */
async function headersOf(opts: Partial<ClientOptions>): Promise<Headers> {
  let seen: Headers | undefined;
  const client = createClient({
    endpoint: 'http://gateway.test',
    retry: { attempts: 1 },
    ...opts,
    fetch: async (_input: string, init: RequestInit) => {
      seen = new Headers(init.headers);
      return new Response('busy', { status: 503 });
    },
  });
  await expect(client.status()).rejects.toMatchObject({ name: 'VitessError' });
  return seen!;
}

describe('HTTP batch request headers', () => {
  it('leave the encoding to fetch by default, and ask for none with compression: false', async () => {
    expect((await headersOf({})).get('accept-encoding')).toBeNull();
    expect((await headersOf({ compression: false })).get('accept-encoding')).toBe('identity');
    expect((await headersOf({ compression: true })).get('accept-encoding')).toBeNull();
  });

  it('carry the token as a bearer token', async () => {
    expect((await headersOf({ token: 'sekret' })).get('authorization')).toBe('Bearer sekret');
    expect((await headersOf({ token: 'sekret', compression: false })).get('authorization')).toBe('Bearer sekret');
  });
});

describe('a fetch function that refuses with a VitessError', () => {
  it('fails the call with that error, not retried as a broken connection would be', async () => {
    let calls = 0;
    const client = createClient({
      endpoint: 'http://gateway.test',
      fetch: async () => {
        calls++;
        throw new VitessError('INVALID', 'the embedded replica is closed');
      },
    });
    await expect(client.changes({ from: 'now' })).rejects.toMatchObject({ code: 'INVALID', message: 'the embedded replica is closed' });
    expect(calls).toBe(1);
  });
});
