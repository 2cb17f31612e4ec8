// Starts `wrangler dev` on a free loopback port and waits until it answers; used by the
// benchmarks and the end-to-end tests. Stop it with `stop()` (SIGTERM, then SIGKILL).
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Bundles the Worker of `config` once (`wrangler deploy --dry-run`) into a temporary directory
 * and returns a config that runs that bundle as it is (`no_bundle`). Starts with it skip the
 * bundling, and edits to the sources while it runs do not reload the Worker (a reload drops
 * every connection and restarts every DO). Only whole-line comments are allowed in `config`.
 * @param {string} config
 * @returns {Promise<{ config: string, dir: string, remove: () => void }>}
 */
export async function bundleWorker(config) {
  const out = mkdtempSync(join(tmpdir(), 'vitess-bundle-'));
  const node = join(root, 'node_modules/.bin/node');
  await promisify(execFile)(node, [join(root, 'node_modules/wrangler/bin/wrangler.js'), 'deploy', '--dry-run', '--outdir', out, '--config', config], {
    cwd: root,
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: 'true', NO_COLOR: '1' },
  });
  const source = JSON.parse(readFileSync(join(root, config), 'utf8').replace(/^\s*\/\/.*$/gm, ''));
  const main = source.main.replace(/^.*\//, '').replace(/\.ts$/, '.js');
  const path = join(out, 'wrangler.json');
  // The static assets stay where the source config points (its paths are relative to it).
  const assets = source.assets && { ...source.assets, directory: join(root, dirname(config), source.assets.directory) };
  writeFileSync(path, JSON.stringify({ ...source, ...(assets && { assets }), main: `./${main}`, no_bundle: true, find_additional_modules: true }));
  return { config: path, dir: out, remove: () => rmSync(out, { recursive: true, force: true }) };
}

/**
 * @param {{ config?: string, cwd?: string, persistTo?: string, port?: number, readyPath?: string, timeoutMs?: number, vars?: Record<string, string> }} opts
 *   `cwd`: the project wrangler runs in (default this repository; `config` is relative to it)
 * @returns {Promise<{ url: string, port: number, child: import('node:child_process').ChildProcess, stop: () => Promise<void>, kill: () => Promise<void>, output: () => string }>}
 */
export async function startWrangler(opts = {}) {
  // A free port can be taken by another process before wrangler binds it: then try another.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(opts);
    } catch (e) {
      if (!(e instanceof PortTaken) || opts.port !== undefined || attempt >= 3) throw e;
    }
  }
}

class PortTaken extends Error {}

async function startOnce(opts) {
  const port = opts.port ?? (await freePort());
  const args = ['dev', '--ip', '127.0.0.1', '--port', String(port), '--inspector-port', String(await freePort()), '--show-interactive-dev-session=false'];
  if (opts.config) args.push('--config', opts.config);
  // State goes where the caller says, else to a fresh directory removed on stop: never the
  // project's .wrangler/, so runs do not see each other's tables.
  const scratch = opts.persistTo ? undefined : mkdtempSync(join(tmpdir(), 'vitess-dev-'));
  args.push('--persist-to', opts.persistTo ?? scratch);
  // The token secret of the calling process (tests and benches set one), unless the caller sets its own.
  const vars = { ...(process.env.VITESS_JWT_SECRET && { VITESS_JWT_SECRET: process.env.VITESS_JWT_SECRET }), ...opts.vars };
  for (const [k, v] of Object.entries(vars)) args.push('--var', `${k}:${v}`);
  // Wrangler needs Node >= 22: run it with the node@22 binary from node_modules/.bin.
  const node = join(root, 'node_modules/.bin/node');
  const child = spawn(node, [join(root, 'node_modules/wrangler/bin/wrangler.js'), ...args], {
    cwd: opts.cwd ?? root,
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: 'true', NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Own process group, so workerd (wrangler's child) goes down with it.
    detached: true,
  });
  const killGroup = (signal) => {
    try {
      process.kill(-child.pid, signal);
    } catch {
      /* already gone */
    }
  };
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  child.stderr.on('data', (d) => {
    out += d;
  });
  // A process killed by a signal has a null exitCode: look at both.
  const exited = () => child.exitCode !== null || child.signalCode !== null;
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
  for (;;) {
    if (exited()) {
      if (scratch) rmSync(scratch, { recursive: true, force: true });
      const message = `wrangler dev exited (${child.exitCode ?? child.signalCode}):\n${out}`;
      throw /Address already in use/.test(out) ? new PortTaken(message) : new Error(message);
    }
    if (Date.now() > deadline) {
      killGroup('SIGKILL');
      throw new Error(`wrangler dev did not answer on ${url} in time:\n${out}`);
    }
    // Only wrangler's own word says the answer is from this server, not one that took the port.
    const ok =
      out.includes(`Ready on ${url}`) &&
      (await fetch(url + (opts.readyPath ?? '/'), { signal: AbortSignal.timeout(2000) }).then(
        () => true,
        () => false,
      ));
    if (ok) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  const stop = async () => {
    if (!exited()) {
      const done = new Promise((r) => child.once('exit', r));
      killGroup('SIGTERM');
      const timer = setTimeout(() => killGroup('SIGKILL'), 5000);
      await done;
      clearTimeout(timer);
    }
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  };
  /** The crash test's way out: no shutdown, no flush, for wrangler and workerd alike. */
  const kill = async () => {
    if (exited()) return;
    const done = new Promise((r) => child.once('exit', r));
    killGroup('SIGKILL');
    await done;
  };
  return { url, port, child, stop, kill, output: () => out };
}
