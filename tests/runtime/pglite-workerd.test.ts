import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import type { PGlite } from '@electric-sql/pglite';
import { createWorkerdPGlite, forgetDataFiles } from '../../engines/pglite-workerd.js';

const inDO = <R>(name: string, fn: () => Promise<R>) => runInDurableObject(env.HOST.get(env.HOST.idFromName(name)), fn);

// workerd's clock only moves on I/O, so read it after a timer.
const now = async () => {
  await new Promise((resolve) => setTimeout(resolve, 0));
  return Date.now();
};
const timed = async <R>(label: string, fn: () => Promise<R>): Promise<R> => {
  const start = await now();
  const result = await fn();
  console.log(`[pglite-workerd] ${label}: ${(await now()) - start} ms`);
  return result;
};

async function exercise(pg: PGlite): Promise<void> {
  await pg.exec(`
    CREATE TABLE users (id int PRIMARY KEY, name text NOT NULL);
    CREATE TABLE audit (id serial PRIMARY KEY, op text, user_id int);
    CREATE FUNCTION audit_users() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN INSERT INTO audit (op, user_id) VALUES (TG_OP, NEW.id); RETURN NEW; END $$;
    CREATE TRIGGER users_audit AFTER INSERT OR UPDATE ON users FOR EACH ROW EXECUTE FUNCTION audit_users();`);
  await pg.query('INSERT INTO users (id, name) VALUES ($1, $2), ($3, $4)', [1, 'Zoë 日本', 2, 'Bob']);
  await pg.query('UPDATE users SET name = $1 WHERE id = $2', ['Bobby', 2]);
  const users = await pg.query<{ id: number; name: string }>('SELECT id, name FROM users ORDER BY id');
  expect(users.rows).toEqual([
    { id: 1, name: 'Zoë 日本' },
    { id: 2, name: 'Bobby' },
  ]);
  const audit = await pg.query<{ op: string; user_id: number }>('SELECT op, user_id FROM audit ORDER BY id');
  expect(audit.rows).toEqual([
    { op: 'INSERT', user_id: 1 },
    { op: 'INSERT', user_id: 2 },
    { op: 'UPDATE', user_id: 2 },
  ]);
}

describe('PGlite in a Durable Object (workerd)', () => {
  it('runs queries and a plpgsql trigger on the pre-initialized data dir, and restores a dump', { timeout: 120_000 }, async () => {
    await inDO('preinitialized', async () => {
      const pg = await timed('cold start, pre-initialized data dir', () => createWorkerdPGlite({ assets: env.ASSETS }));
      await timed('second start, pre-initialized data dir', async () => (await createWorkerdPGlite({ assets: env.ASSETS })).close());
      await exercise(pg);
      const dump = await timed('dumpDataDir', () => pg.dumpDataDir('none'));
      await pg.close();

      const restored = await timed('start from dump', () => createWorkerdPGlite({ assets: env.ASSETS, dataDir: dump }));
      const { rows } = await restored.query<{ n: number }>('SELECT count(*)::int AS n FROM audit');
      expect(rows).toEqual([{ n: 3 }]);
      await restored.query("INSERT INTO users (id, name) VALUES (3, 'Cy')"); // the trigger still fires
      expect((await restored.query('SELECT * FROM audit')).rows).toHaveLength(4);
      const gzipped = await restored.dumpDataDir('gzip');
      await restored.close();

      const fromGzip = await createWorkerdPGlite({ assets: env.ASSETS, dataDir: gzipped });
      expect((await fromGzip.query('SELECT name FROM users ORDER BY id')).rows).toEqual([{ name: 'Zoë 日本' }, { name: 'Bobby' }, { name: 'Cy' }]);
      await fromGzip.close();
      await expect(createWorkerdPGlite({ assets: env.ASSETS, dataDir: new Blob(['not a tar']) })).rejects.toThrow(/PG_VERSION/);
      // A buffer that was not recorded at build time fails with a message saying what to do.
      const unknownWasm = Uint8Array.of(0, 0x61, 0x73, 0x6d, 1, 0, 0, 0);
      expect(() => new WebAssembly.Module(unknownWasm)).toThrow(/8 bytes .*scripts\/pglite-modules\.mjs/);
    });
  });

  it('runs initdb when preinitialized is false', { timeout: 120_000 }, async () => {
    await inDO('fresh', async () => {
      const pg = await timed('cold start, fresh initdb', () => createWorkerdPGlite({ assets: env.ASSETS, preinitialized: false }));
      await exercise(pg);
      await pg.close();
    });
  });

  it("reads PGlite's data files from the static assets, and says what is wrong when it cannot", { timeout: 60_000 }, async () => {
    await inDO('assets', async () => {
      const served = (status: number, body: string) => ({ fetch: async () => new Response(body, { status }) });
      try {
        forgetDataFiles();
        await expect(createWorkerdPGlite({ assets: undefined })).rejects.toThrow(
          /no assets binding: add "assets": \{ "directory": "dist\/public", "binding": "ASSETS" \}/,
        );
        forgetDataFiles();
        await expect(createWorkerdPGlite({ assets: served(404, 'not found') })).rejects.toThrow(
          /\/pglite\/pglite\.data is not in the Worker's static assets \(HTTP 404\): run `npm run build`/,
        );
        forgetDataFiles();
        await expect(createWorkerdPGlite({ assets: served(200, 'other bytes') })).rejects.toThrow(/not the one this Worker was built with/);
      } finally {
        forgetDataFiles();
      }
      // A failed read is not kept: the next start reads the files again.
      const pg = await createWorkerdPGlite({ assets: env.ASSETS });
      expect((await pg.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
      await pg.close();
    });
  });
});
