// Tokens for tests that run VTGate under wrangler: one secret for the test process, passed to
// every `startWrangler` (scripts/wrangler-dev.mjs) and to the CLI through the environment, and an
// admin token in VITESS_TOKEN that every client made without a token sends (client/client.ts).
import { mintToken, type TokenFlags } from '../../client/cli/token.js';

export const TEST_JWT_SECRET = 'vitess-test-secret-0123456789abcdef0123456789abcdef';

/** A token signed with the test secret: `vitess token create` with these flags. */
export const token = (flags: TokenFlags = {}): Promise<string> => mintToken(flags);

/** Headers for raw `fetch`es to VTGate, as the admin (or with the given token). */
export const authHeaders = (t = process.env.VITESS_TOKEN!): Record<string, string> => ({ authorization: `Bearer ${t}` });

/** A JSON POST as VTGate takes it, authorized as the admin (or with the given token). */
export const jsonPost = (body: unknown, t?: string): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...authHeaders(t) },
  body: JSON.stringify(body),
});
