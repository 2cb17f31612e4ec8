// What a keyspace asks of the Worker's bindings (router/bindings.ts): a missing one is named with
// the lines to add; what the keyspace does not use is not asked for.
import { describe, expect, it } from 'vitest';
import { providePglite } from '../../engines/workerd-pglite.js';
import { missingFor } from '../../router/bindings.js';
import { parseVSchema } from '../../router/vschema.js';

const ns = {};
const keyspace = (json: object) => parseVSchema({ keyspaces: [{ name: 'ks', shards: 2, ...json }] }).keyspaces[0]!;

describe('missingFor', () => {
  it('needs only TABLET for a SQLite keyspace without replicas', () => {
    const ks = keyspace({ engine: 'sqlite' });
    expect(missingFor(ks, { TABLET: ns })).toBeUndefined();
    const e = missingFor(ks, {});
    expect(e).toMatchObject({ code: 'UNSUPPORTED', details: { construct: 'binding TABLET' } });
    expect(e?.message).toContain('{ "name": "TABLET", "class_name": "VTTablet" }');
  });

  it('asks for REPLICA when the keyspace names regions, with the migration and the class to export', () => {
    const ks = keyspace({ engine: 'sqlite', regions: ['weur'] });
    const e = missingFor(ks, { TABLET: ns });
    expect(e).toMatchObject({ code: 'UNSUPPORTED', details: { construct: 'binding REPLICA' } });
    expect(e?.message).toContain('keyspace "ks", which has read replicas in weur');
    expect(e?.message).toContain('"new_sqlite_classes": ["VTReplica"]');
    expect(e?.message).toContain("export { VTReplica } from '@dotdo/vitess/server'");
    expect(missingFor(ks, { TABLET: ns, REPLICA: ns })).toBeUndefined();
  });

  it('asks for ASSETS when the keyspace or its replicas run PGlite, in a Worker that bundles PGlite', () => {
    const pg = keyspace({ engine: 'pglite' });
    // The SQLite-only Worker: its tablets refuse the keyspace, naming the entry to use instead.
    expect(missingFor(pg, { TABLET: ns })).toBeUndefined();
    providePglite(() => Promise.reject(new Error('not opened here')));
    expect(missingFor(pg, { TABLET: ns })?.message).toContain('"assets": { "directory": "node_modules/@dotdo/vitess/dist/public", "binding": "ASSETS" }');
    expect(missingFor(pg, { TABLET: ns, ASSETS: ns })).toBeUndefined();
    const pgReplicas = keyspace({ engine: 'sqlite', regions: ['wnam'], replicaEngine: 'pglite' });
    expect(missingFor(pgReplicas, { TABLET: ns, REPLICA: ns })).toMatchObject({ details: { construct: 'binding ASSETS' } });
  });
});
