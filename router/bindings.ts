/**
 * The Worker's bindings, and what each one is for. A Worker needs only `TABLET` (the shard
 * primaries) and, for a keyspace on PGlite, the static assets `ASSETS`: that is the two-line
 * server `export default VTGate; export { VTTablet }` (docs/packages.md). Each other Durable
 * Object binding serves one feature, and only that feature fails without it, with an error that
 * names the lines to add.
 */
import { pgliteProvided } from '../engines/workerd-pglite.js';
import { VitessError } from '../rpc/errors.js';
import type { KeyspaceVSchema } from './vschema.js';

/** The Durable Object bindings VTGate looks for: the class each one binds, and what needs it. */
export const DO_BINDINGS = {
  TABLET: { className: 'VTTablet', neededBy: 'every keyspace (its shard primaries)' },
  REPLICA: { className: 'VTReplica', neededBy: 'read replicas' },
  COORDINATOR: { className: 'VTCoordinator', neededBy: 'transactions and atomic writes that span shards (two-phase commit)' },
  SEQUENCE: { className: 'VTSequence', neededBy: 'global sequences (SERIAL columns of sharded tables, CREATE SEQUENCE)' },
} as const;

export type DoBinding = keyof typeof DO_BINDINGS;

/** Where the package's static files are, as a Worker's wrangler.jsonc names them. */
export const ASSETS_LINE = '"assets": { "directory": "node_modules/@dotdo/vitess/dist/public", "binding": "ASSETS" }';

/** The error for a Durable Object binding the Worker lacks; `neededBy` says what asked for it. */
export function missingBinding(name: DoBinding, neededBy: string = DO_BINDINGS[name].neededBy): VitessError {
  const { className } = DO_BINDINGS[name];
  return new VitessError(
    'UNSUPPORTED',
    `this Worker has no Durable Object binding ${name}, needed by ${neededBy}: ` +
      `add { "name": "${name}", "class_name": "${className}" } to "durable_objects.bindings" and a migration ` +
      `{ "tag": "…", "new_sqlite_classes": ["${className}"] } to "migrations" in wrangler.jsonc, ` +
      `and export ${className} from the Worker's main module: export { ${className} } from '@dotdo/vitess/server'`,
    { construct: `binding ${name}` },
  );
}

/**
 * The first binding keyspace `ks` needs and the Worker lacks, as the error every request on the
 * keyspace gets (as a bad vschema does): its shard primaries, its replicas if it names regions,
 * and the static assets PGlite's data files are read from (in a Worker that bundles PGlite; the
 * SQLite-only one refuses the keyspace itself, naming the entry to use).
 */
export function missingFor(ks: KeyspaceVSchema, env: Partial<Record<DoBinding | 'ASSETS', unknown>>): VitessError | undefined {
  if (!env.TABLET) return missingBinding('TABLET');
  if (ks.regions.length && !env.REPLICA) {
    return missingBinding('REPLICA', `keyspace "${ks.name}", which has read replicas in ${ks.regions.join(', ')} ("regions" in its vschema)`);
  }
  if ((ks.engine === 'pglite' || (ks.regions.length && ks.replicaEngine === 'pglite')) && !env.ASSETS && pgliteProvided()) {
    return new VitessError(
      'UNSUPPORTED',
      `keyspace "${ks.name}" runs PGlite, which reads its data files from the Worker's static assets, and this Worker has no assets binding ASSETS: ` +
        `add ${ASSETS_LINE} to wrangler.jsonc (in this package's own repository the directory is "dist/public")`,
      { construct: 'binding ASSETS' },
    );
  }
  return undefined;
}
