/**
 * The README's "Use it from your own Worker", as a user runs it: the packages packed from the
 * built dist/ (`npm pack`), installed into a new directory from the tarballs (their dependencies
 * from the npm cache), the README's server file and wrangler.jsonc written there, `wrangler dev`
 * started in it and the README's client run against it on both engines; `wrangler deploy
 * --dry-run` builds it; and what the two files leave out (the coordinator, sequences, the static
 * assets) fails with an error that names the binding and the lines to add. Wrangler is this
 * repository's (the version the README's `npm install -D wrangler` gets), run in that directory.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWrangler, type WranglerDev } from '../../scripts/wrangler-dev.mjs';
import { jsonPost } from '../support/auth.js';
import { checkBuilt, ROOT } from '../support/cli.js';

const run = promisify(execFile);
const NODE22 = join(ROOT, 'node_modules/.bin/node');
const WRANGLER = join(ROOT, 'node_modules/wrangler/bin/wrangler.js');
const QUIET = { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: 'true', NO_COLOR: '1' };

/** The one ```lang block of the README's "Use it from your own Worker" section. */
function readmeBlock(lang: string): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('\n## Use it from your own Worker');
  expect(start, 'README has a "## Use it from your own Worker" section').toBeGreaterThan(0);
  const end = readme.indexOf('\n## ', start + 1);
  const blocks = [...readme.slice(start, end < 0 ? undefined : end).matchAll(new RegExp(`^\`\`\`${lang}\\n([\\s\\S]*?)^\`\`\`$`, 'gm'))];
  expect(blocks.length, `one \`\`\`${lang} block in the section`).toBe(1);
  return blocks[0]![1]!;
}

const server = readmeBlock('ts');
const config = readmeBlock('jsonc');
const client = readmeBlock('js');

const scratch = mkdtempSync(join(tmpdir(), 'vitess-consumer-'));
const project = join(scratch, 'my-app');
let w: WranglerDev | undefined;

beforeAll(async () => {
  checkBuilt();
  expect(existsSync(join(ROOT, 'dist/router/bindings.js')), 'dist/ has the server entry: run npm run build').toBe(true);
  const packs = join(scratch, 'packs');
  mkdirSync(packs);
  // dist/ as built; `prepare` would build again.
  await run('npm', ['pack', '--ignore-scripts', '--workspaces', '--include-workspace-root', '--pack-destination', packs], { cwd: ROOT });
  const tarballs = readdirSync(packs).map((f) => join(packs, f));
  expect(tarballs.map((t) => t.replace(/^.*\//, '')).sort()).toEqual([
    'dotdo-vitess-0.1.0.tgz',
    'dotdo-vitess-postgres-0.1.0.tgz',
    'dotdo-vitess-rpc-0.1.0.tgz',
    'dotdo-vitess-sqlite-0.1.0.tgz',
  ]);
  mkdirSync(join(project, 'src'), { recursive: true });
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'my-app', version: '1.0.0', private: true }));
  await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', ...tarballs], { cwd: project });
  writeFileSync(join(project, 'src/index.ts'), server);
  writeFileSync(join(project, 'wrangler.jsonc'), config);
  w = await startWrangler({ cwd: project });
}, 240_000);

afterAll(async () => {
  await w?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

/** `POST /sql` as the admin: its rows, or its error. */
const sql = async (url: string, keyspace: string, body: object) =>
  (await (await fetch(`${url}/sql`, jsonPost({ keyspace, ...body }))).json()) as {
    rows?: unknown[];
    error?: { code: string; message: string; details: object };
  };

describe('a project with the README’s two files', () => {
  it('serves the README’s client on both engines', async () => {
    writeFileSync(join(project, 'client.mjs'), client.replace('http://localhost:8787', w!.url));
    // The client sends VITESS_TOKEN (an admin token of the test secret, which startWrangler passes on).
    const { stdout } = await run(process.execPath, ['client.mjs'], { cwd: project });
    expect(stdout.match(/^\w+ /gm)).toEqual(['main ', 'pg ']);
    for (const p of stdout.split(/^pg /m)) {
      expect(p).toContain("{ id: 1, email: 'ada@example.com' }");
      expect(p).toContain("{ id: 2, email: 'bob@example.com' }");
    }
    const status = (await (await fetch(`${w!.url}/status`, { headers: { authorization: `Bearer ${process.env.VITESS_TOKEN}` } })).json()) as {
      keyspaces: { name: string; shards: { engine: string }[] }[];
    };
    expect(status.keyspaces.map((k) => [k.name, k.shards.map((s) => s.engine)])).toEqual([
      ['main', ['do-sqlite', 'do-sqlite']],
      ['pg', ['pglite', 'pglite']],
    ]);
  });

  it('the three other package names resolve to the same classes', async () => {
    const check = `
      const [pg, sqlite, rpc, main, pkgPg, pkgSqlite] = await Promise.all(['@dotdo/vitess-postgres', '@dotdo/vitess-sqlite', '@dotdo/vitess-rpc', '@dotdo/vitess', '@dotdo/vitess/postgres', '@dotdo/vitess/sqlite'].map((m) => import(m)));
      console.log(JSON.stringify([pg.PGliteAdapter === pkgPg.PgliteEngine, sqlite.TursoAdapter === pkgSqlite.LibsqlEngine, rpc.VitessError === main.VitessError]));
      const db = await sqlite.TursoAdapter.open(':memory:');
      console.log((await db.query('SELECT 6 * 7 AS n')).rows[0].n);`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', check], { cwd: project });
    expect(stdout.trim().split('\n')).toEqual(['[true,true,true]', '42']);
  });

  it('refuses what needs a binding it lacks, naming the binding and the lines to add', async () => {
    // Rows 10–19 reach both shards of "main": an atomic batch over them needs two-phase commit.
    const batch = Array.from({ length: 10 }, (_, i) => ({ sql: 'INSERT INTO users (id, email) VALUES ($1, $2)', params: [10 + i, `u${i}@example.com`] }));
    const atomic = await sql(w!.url, 'main', { batch, atomic: true });
    expect(atomic.error).toMatchObject({ code: 'UNSUPPORTED', details: { construct: 'binding COORDINATOR' } });
    const coordinator = atomic.error?.message;
    expect(coordinator).toContain('{ "name": "COORDINATOR", "class_name": "VTCoordinator" }');
    expect(coordinator).toContain('"new_sqlite_classes": ["VTCoordinator"]');
    expect(coordinator).toContain("export { VTCoordinator } from '@dotdo/vitess/server'");
    expect((await sql(w!.url, 'main', { sql: 'SELECT count(*) AS n FROM users WHERE id >= 10' })).rows).toEqual([{ n: 0 }]);

    const sequence = await sql(w!.url, 'main', { sql: 'CREATE SEQUENCE order_ids' });
    expect(sequence.error).toMatchObject({ code: 'UNSUPPORTED', details: { construct: 'binding SEQUENCE' } });
    expect(sequence.error?.message).toContain('{ "name": "SEQUENCE", "class_name": "VTSequence" }');
  });

  it('builds with wrangler deploy --dry-run', async () => {
    const out = join(scratch, 'deploy');
    const { stdout } = await run(NODE22, [WRANGLER, 'deploy', '--dry-run', '--outdir', out], { cwd: project, env: QUIET });
    expect(stdout).toContain('--dry-run: exiting now.');
    expect(stdout).toContain('env.TABLET (VTTablet)');
    const files = readdirSync(out);
    expect(files).toContain('index.js');
    expect(files.some((f) => f.endsWith('-pglite.wasm'))).toBe(true);
  });
});

it('without the assets line, a PGlite keyspace is refused with the line to add, a SQLite one is not', async () => {
  await w?.stop();
  w = undefined;
  const lines = config.split('\n');
  const withoutAssets = lines.filter((l) => !l.includes('"assets"'));
  expect(withoutAssets.length).toBe(lines.length - 1);
  writeFileSync(join(project, 'wrangler.no-assets.jsonc'), withoutAssets.join('\n'));
  w = await startWrangler({ cwd: project, config: 'wrangler.no-assets.jsonc' });
  // The SQLite keyspace needs no assets.
  expect((await sql(w.url, 'main', { sql: 'CREATE TABLE t (id BIGINT PRIMARY KEY)' })).error).toBeUndefined();
  const r = await sql(w.url, 'pg', { sql: 'SELECT 1 AS one' });
  expect(r.error).toMatchObject({ code: 'UNSUPPORTED', details: { construct: 'binding ASSETS' } });
  expect(r.error?.message).toContain(
    'keyspace "pg" runs PGlite, which reads its data files from the Worker\'s static assets, and this Worker has no assets binding ASSETS: add "assets": { "directory": "node_modules/@dotdo/vitess/dist/public", "binding": "ASSETS" } to wrangler.jsonc',
  );
});
