import type { ChildProcess } from 'node:child_process';

export interface WranglerDev {
  url: string;
  port: number;
  child: ChildProcess;
  /** SIGTERM, then SIGKILL after 5 s. */
  stop(): Promise<void>;
  /** SIGKILL to wrangler and workerd at once: no shutdown, no flush. */
  kill(): Promise<void>;
  output(): string;
}

export function freePort(): Promise<number>;
export function startWrangler(opts?: {
  config?: string;
  /** The project wrangler runs in (default: this repository); `config` is relative to it. */
  cwd?: string;
  persistTo?: string;
  port?: number;
  readyPath?: string;
  timeoutMs?: number;
  vars?: Record<string, string>;
}): Promise<WranglerDev>;
/** Bundles the Worker of `config` once; the returned config runs that bundle without bundling or watching. */
export function bundleWorker(config: string): Promise<{ config: string; dir: string; remove(): void }>;
