import { test } from 'vitest';
import { openPglite } from '/work/main/engines/postgres.js';
test('t', async () => { let t = Date.now(); const a = await openPglite(); console.log('one', Date.now() - t); t = Date.now(); const b = await openPglite(); console.log('two', Date.now() - t); await a.close(); await b.close(); }, 120000);
