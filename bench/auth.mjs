// Auth for the benchmarks: VTGate takes no request without a JWT. Imported by every bench
// that starts wrangler or calls VTGate: a fresh random secret that `startWrangler`
// (scripts/wrangler-dev.mjs) passes to each wrangler it starts, and an admin token signed with it
// in VITESS_TOKEN, which every client made without a token sends. Raw fetches send `authHeaders()`.
// Signs with `vitess token create`'s code from dist/: `npm run build` first (`npm run bench` does).
import { randomBytes } from 'node:crypto';
import { mintToken } from '../dist/client/cli/token.js';

process.env.VITESS_JWT_SECRET = randomBytes(32).toString('hex');
process.env.VITESS_TOKEN = await mintToken({ admin: true, ttl: '24h', sub: 'bench' });

/** Headers for a raw `fetch` to VTGate, as the admin. */
export const authHeaders = () => ({ authorization: `Bearer ${process.env.VITESS_TOKEN}` });

/** A JSON POST as VTGate takes it (content-type application/json), as the admin. */
export const jsonPost = (body) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...authHeaders() },
  body: typeof body === 'string' ? body : JSON.stringify(body),
});
