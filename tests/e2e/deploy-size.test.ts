// The Worker fits Cloudflare's script size limit with room to grow (docs/deployment.md): built as
// `wrangler deploy --dry-run` builds it, the default Worker (both engines) stays under 6 MB
// compressed and the SQLite-only one (router/server-sqlite.ts) under 1 MB, source maps excluded.
// The SQLite-only Worker holds no PGlite at all, serves queries, and refuses a PGlite keyspace
// with an error that says which entry to use.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { createClient } from '../../client/index.js';
import { bundleWorker, startWrangler } from '../../scripts/wrangler-dev.mjs';

const MB = 1024 * 1024;
const bundles: { remove: () => void }[] = [];
afterAll(() => {
  for (const b of bundles) b.remove();
});

/** What the upload weighs compressed: every module of the bundle, source maps and wrangler's notes excluded. */
function compressedUpload(dir: string): { bytes: number; files: string[] } {
  const files = readdirSync(dir).filter((f) => !f.endsWith('.map') && f !== 'README.md' && f !== 'wrangler.json');
  return { bytes: files.reduce((n, f) => n + gzipSync(readFileSync(join(dir, f))).length, 0), files };
}

describe('deploy size', () => {
  it('the default Worker, both engines, is under 6 MB compressed: PGlite data files are static assets, not script', async () => {
    const b = await bundleWorker('wrangler.jsonc');
    bundles.push(b);
    const { bytes, files } = compressedUpload(b.dir);
    console.log(`deploy size: default Worker ${(bytes / MB).toFixed(2)} MB compressed (${files.length} modules)`);
    expect(bytes).toBeLessThan(6 * MB);
    expect(files.filter((f) => f.endsWith('.data'))).toEqual([]);
  }, 120_000);

  it('the SQLite-only Worker is under 1 MB compressed, holds no PGlite, and serves queries', async () => {
    const b = await bundleWorker('tests/e2e/sqlite-only.wrangler.jsonc');
    bundles.push(b);
    const { bytes, files } = compressedUpload(b.dir);
    console.log(`deploy size: SQLite-only Worker ${(bytes / MB).toFixed(2)} MB compressed (${files.length} modules)`);
    expect(bytes).toBeLessThan(1 * MB);
    expect(files.filter((f) => f.endsWith('.wasm'))).toEqual([]);
    const sources = (JSON.parse(readFileSync(join(b.dir, `${files.find((f) => f.endsWith('.js'))!}.map`), 'utf8')) as { sources: string[] }).sources;
    expect(sources.filter((s) => /@electric-sql\/pglite|pglite-workerd|engines\/pglite\.ts/.test(s))).toEqual([]);

    const vschema = {
      keyspaces: [
        { name: 'main', engine: 'sqlite', shards: ['-80', '80-'], regions: [] },
        { name: 'pg', engine: 'pglite', shards: ['-80', '80-'], regions: [] },
      ],
    };
    const w = await startWrangler({ config: b.config, vars: { VSCHEMA: JSON.stringify(vschema) } });
    try {
      const c = createClient({ endpoint: w.url, keyspace: 'main' });
      await c.execute('CREATE TABLE notes (id BIGINT PRIMARY KEY, body TEXT NOT NULL)');
      await c.execute("INSERT INTO notes (id, body) VALUES (1, 'a'), (2, 'b'), (3, 'c')");
      expect((await c.query<{ n: number }>('SELECT count(*) AS n FROM notes')).rows).toEqual([{ n: 3 }]);
      const err = await createClient({ endpoint: w.url, keyspace: 'pg' })
        .query('SELECT 1')
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'UNSUPPORTED', message: expect.stringMatching(/without PGlite.*@dotdo\/vitess\/server\b/) });
    } finally {
      await w.stop();
    }
  }, 180_000);
});
