/**
 * The README's five-minute tour, run as written so it cannot go stale: every ```sh block of the
 * "A five-minute tour" section, in order, in bash (`set -euo pipefail`) against a fresh
 * `wrangler dev` (what `npm start` runs), from an empty directory. `npx vitess` is the built
 * bin (package.json), `npx wrangler` the project's wrangler with its config, and
 * `localhost:8787` the test's gateway. Each `# → text` line must appear in the block's output
 * (stdout and stderr together), in order.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startWrangler, type WranglerDev } from '../../scripts/wrangler-dev.mjs';
import { BIN, checkBuilt, ROOT, spawnCommand } from '../support/cli.js';

interface Block {
  script: string;
  expect: string[];
}

/** The ```sh blocks of the README's tour section, with their `# →` expectations. */
function tourBlocks(): Block[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('\n## A five-minute tour');
  expect(start, 'README has a "## A five-minute tour" section').toBeGreaterThan(0);
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => ({
    script: m[1]!,
    expect: [...m[1]!.matchAll(/^# → (.*)$/gm)].map((e) => e[1]!.trim()),
  }));
}

const PRELUDE = `set -euo pipefail
exec 2>&1
npx() {
  case "$1" in
    vitess) shift; "$NODE" "$VITESS_BIN" "$@" ;;
    wrangler) shift; "$NODE" "$ROOT/node_modules/wrangler/bin/wrangler.js" "$@" --config "$ROOT/wrangler.jsonc" ;;
    *) echo "the tour runs only npx vitess and npx wrangler, not npx $1" >&2; return 1 ;;
  esac
}
`;

let w: WranglerDev;
const cwd = mkdtempSync(join(tmpdir(), 'vitess-tour-'));

beforeAll(async () => {
  checkBuilt();
  w = await startWrangler(); // fresh state, as `npm start` on a new checkout
});

afterAll(async () => {
  await w?.stop();
  rmSync(cwd, { recursive: true, force: true });
});

it('covers what a newcomer needs: tables, shards, plans, replicas, streams, loads, embedded replicas, deploy', () => {
  const all = tourBlocks()
    .map((b) => b.script)
    .join('\n');
  for (const step of [
    'vitess sql "CREATE TABLE',
    'INSERT INTO',
    'vitess explain',
    '--region',
    'vitess status',
    'vitess watch',
    'vitess load',
    'vitess replica',
    '/metrics',
    'wrangler deploy',
  ]) {
    expect(all, step).toContain(step);
  }
  // And the two commands before it.
  expect(spawnSync('grep', ['-c', '^npm install\\|^npm start', join(ROOT, 'README.md')], { encoding: 'utf8' }).stdout.trim()).toBe('2');
});

it('runs every command block of the tour in order, with the output it shows', async () => {
  const blocks = tourBlocks();
  expect(blocks.length).toBeGreaterThanOrEqual(6);
  const host = new URL(w.url).host;
  for (const [i, block] of blocks.entries()) {
    const script = PRELUDE + block.script.replaceAll('localhost:8787', host);
    const p = spawnCommand('bash', ['-c', script], {
      cwd,
      env: { NODE: process.execPath, VITESS_BIN: BIN, ROOT, VITESS_ENDPOINT: w.url, VITESS_HISTORY: join(cwd, 'history') },
    });
    const code = await p.exited;
    const out = p.stdout + p.stderr;
    expect(code, `block ${i + 1} failed:\n${block.script}\n--- output:\n${out}`).toBe(0);
    let at = 0;
    for (const text of block.expect) {
      const found = out.indexOf(text, at);
      expect(found, `block ${i + 1}: "${text}" not in the output (after what the lines before it matched):\n${out}`).toBeGreaterThanOrEqual(0);
      at = found + text.length;
    }
  }
});
