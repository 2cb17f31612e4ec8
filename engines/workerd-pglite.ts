/**
 * How the tablet and replica Durable Objects open a PGlite engine inside workerd. The server
 * entry that ships PGlite (router/server.ts) provides the opener; the SQLite-only entry
 * (router/server-sqlite.ts) does not, so that its bundle holds no PGlite at all (no wasm, no
 * PGlite JavaScript): only type imports of PGlite's modules below.
 */
import { VitessError } from '../rpc/errors.js';
import type { PgliteEngine, PgliteEngineOptions } from './pglite.js';
import type { WorkerdPGliteOptions } from './pglite-workerd.js';

export type PgliteOpener = (pglite: WorkerdPGliteOptions, engine?: PgliteEngineOptions) => Promise<PgliteEngine>;

let opener: PgliteOpener | undefined;

/** Called once by a server entry that bundles PGlite. */
export function providePglite(open: PgliteOpener): void {
  opener = open;
}

/** Whether this Worker bundles PGlite (its entry provided the opener). */
export const pgliteProvided = (): boolean => opener !== undefined;

export function openWorkerdPglite(pglite: WorkerdPGliteOptions, engine?: PgliteEngineOptions): Promise<PgliteEngine> {
  if (!opener) {
    throw new VitessError(
      'UNSUPPORTED',
      "this Worker was built without PGlite (its entry is @dotdo/vitess/server-sqlite): a keyspace with engine 'pglite' needs the entry @dotdo/vitess/server",
      { construct: 'engine pglite' },
    );
  }
  return opener(pglite, engine);
}
