// Runs the built `vitess` binary (package.json `bin`) as a child process, for the CLI and README
// tour tests: to completion, or long-running with waits on what it prints (never on timing).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; bin: Record<string, string> };
export const VERSION = pkg.version;
/** The file `npx vitess` runs. */
export const BIN = join(ROOT, pkg.bin.vitess!);

/** Fails early when dist/ is missing or older than the CLI's sources (the tests would test old code). */
export function checkBuilt(): void {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run npm run build`);
  const src = join(ROOT, 'client/cli');
  const newest = Math.max(...readdirSync(src).map((f) => statSync(join(src, f)).mtimeMs));
  if (statSync(BIN).mtimeMs < newest) throw new Error(`${BIN} is older than client/cli/: run npm run build`);
}

/** A Node binary on PATH other than the node@22 of node_modules/.bin (the machine's own, e.g. Node 20). */
export function systemNode(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir || dir.includes('node_modules')) continue;
    if (existsSync(join(dir, 'node'))) return join(dir, 'node');
  }
  return undefined;
}

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  env?: Record<string, string>;
  input?: string;
  cwd?: string;
  /** The Node binary (default: the one running the tests). */
  node?: string;
}

/** A running command: its output so far, waits on it, and its exit. */
export class Proc {
  stdout = '';
  stderr = '';
  readonly exited: Promise<number | null>;
  readonly #waiters = new Set<() => void>();

  constructor(readonly child: ChildProcess) {
    child.stdout!.on('data', (d: Buffer) => {
      this.stdout += d;
      this.#wake();
    });
    child.stderr!.on('data', (d: Buffer) => {
      this.stderr += d;
      this.#wake();
    });
    this.exited = new Promise((resolve) =>
      child.on('close', (code) => {
        this.#wake();
        resolve(code);
      }),
    );
  }

  #wake(): void {
    for (const w of this.#waiters) w();
  }

  /** Resolves with the first match of `re` in stdout (or stderr) once printed; rejects if the process exits first or after `timeoutMs`. */
  waitFor(re: RegExp, stream: 'stdout' | 'stderr' = 'stdout', timeoutMs = 60_000): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const m = this[stream].match(re);
        if (m) return done(() => resolve(m));
        if (this.child.exitCode !== null || this.child.signalCode !== null) {
          done(() =>
            reject(new Error(`exited (${this.child.exitCode ?? this.child.signalCode}) before printing ${re}\nstdout: ${this.stdout}\nstderr: ${this.stderr}`)),
          );
        }
      };
      const timer = setTimeout(
        () => done(() => reject(new Error(`no ${re} on ${stream} within ${timeoutMs} ms\nstdout: ${this.stdout}\nstderr: ${this.stderr}`))),
        timeoutMs,
      );
      const done = (f: () => void) => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        f();
      };
      this.#waiters.add(check);
      check();
    });
  }

  write(text: string): void {
    this.child.stdin!.write(text);
  }

  async stop(signal: NodeJS.Signals = 'SIGINT'): Promise<Run> {
    this.child.kill(signal);
    const code = await this.exited;
    return { code, stdout: this.stdout, stderr: this.stderr };
  }
}

export function spawnCommand(command: string, args: string[], opts: CliOptions = {}): Proc {
  const child = spawn(command, args, {
    cwd: opts.cwd ?? ROOT,
    env: { ...process.env, NO_COLOR: '1', ...opts.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  if (opts.input !== undefined) child.stdin!.end(opts.input);
  return new Proc(child);
}

/** Starts `vitess args…`. */
export function startCli(args: string[], opts: CliOptions = {}): Proc {
  return spawnCommand(opts.node ?? process.execPath, [BIN, ...args], opts);
}

/** Runs `vitess args…` to completion. */
export async function cli(args: string[], opts: CliOptions = {}): Promise<Run> {
  const p = startCli(args, { input: '', ...opts });
  const code = await p.exited;
  return { code, stdout: p.stdout, stderr: p.stderr };
}
