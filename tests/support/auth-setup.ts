// vitest setupFiles of the e2e and browser projects: every VTGate these tests start runs with
// auth on, and every client and CLI run they make is an admin unless it says otherwise.
import { TEST_JWT_SECRET, token } from './auth.js';

process.env.VITESS_JWT_SECRET = TEST_JWT_SECRET;
process.env.VITESS_TOKEN = await token({ admin: true, ttl: '24h', sub: 'tests' });
