import { describe, expect, test } from 'vitest';
import { VitessError } from '../../rpc/errors.js';
import { DEFAULT_VSCHEMA, keyspaceOf, parseVSchema } from '../../router/vschema.js';

function invalid(input: unknown): string {
  try {
    parseVSchema(input);
  } catch (e) {
    expect(e).toBeInstanceOf(VitessError);
    expect((e as VitessError).code).toBe('INVALID');
    return (e as VitessError).message;
  }
  throw new Error('expected the vschema to be refused');
}

const ks = (over: Record<string, unknown> = {}) => ({ keyspaces: [{ name: 'main', engine: 'sqlite', shards: 4, ...over }] });

describe('vschema', () => {
  test('the default: main on sqlite with 4 shards, pg on pglite with 2, replicas in wnam and weur', () => {
    expect(DEFAULT_VSCHEMA.keyspaces).toEqual([
      {
        name: 'main',
        engine: 'sqlite',
        shards: ['-40', '40-80', '80-c0', 'c0-'],
        regions: ['wnam', 'weur'],
        replicaEngine: 'sqlite',
        transactionMode: 'multi',
        tables: {},
      },
      { name: 'pg', engine: 'pglite', shards: ['-80', '80-'], regions: ['wnam', 'weur'], replicaEngine: 'pglite', transactionMode: 'multi', tables: {} },
    ]);
  });

  test('transactionMode: multi unless set; only single, multi or twopc', () => {
    expect(parseVSchema(ks()).keyspaces[0]!.transactionMode).toBe('multi');
    expect(parseVSchema(ks({ transactionMode: 'twopc' })).keyspaces[0]!.transactionMode).toBe('twopc');
    expect(parseVSchema(ks({ transactionMode: 'single' })).keyspaces[0]!.transactionMode).toBe('single');
    expect(invalid(ks({ transactionMode: 'xa' }))).toMatch(/keyspaces\["main"\]\.transactionMode/);
  });

  test('a shard count expands to equal key ranges', () => {
    expect(parseVSchema(ks({ shards: 8 })).keyspaces[0]!.shards).toEqual(['-20', '20-40', '40-60', '60-80', '80-a0', 'a0-c0', 'c0-e0', 'e0-']);
    expect(parseVSchema(ks({ shards: 1 })).keyspaces[0]!.shards).toEqual(['-']);
  });

  test('tables: vindexes, lookups (default table name), reference and null', () => {
    const v = parseVSchema(
      ks({
        tables: {
          users: { vindex: { type: 'hash', column: 'id' }, lookups: [{ column: 'email' }] },
          events: {
            vindex: {
              type: 'range',
              column: 'day',
              ranges: [
                { to: 100, shard: '-40' },
                { from: 100, shard: '40-80' },
              ],
            },
          },
          countries: { type: 'reference' },
          currencies: { vindex: { type: 'null' } },
          notes: {},
        },
      }),
    ).keyspaces[0]!.tables;
    expect(v.users).toEqual({ type: 'sharded', vindex: { type: 'hash', column: 'id' }, lookups: [{ column: 'email', table: 'users_email_lookup' }] });
    expect(v.countries).toEqual({ type: 'reference' });
    expect(v.currencies).toEqual({ type: 'reference' });
    expect(v.notes).toEqual({ type: 'sharded', lookups: [] });
  });

  test('columns: Yjs columns, on sharded and reference tables', () => {
    const vs = parseVSchema(
      ks({ tables: { notes: { columns: { body: 'yjs', title2: 'yjs' } }, docs: { type: 'reference', columns: { state: 'yjs' } }, plain: {} } }),
    );
    const tables = keyspaceOf(vs, 'main').tables;
    expect(tables.notes).toEqual({ type: 'sharded', lookups: [], yjs: ['body', 'title2'] });
    expect(tables.docs).toEqual({ type: 'reference', yjs: ['state'] });
    expect(tables.plain).toEqual({ type: 'sharded', lookups: [] });
    expect(invalid(ks({ tables: { notes: { columns: { body: 'crdt' } } } }))).toMatch(/tables\.notes\.columns\.body/);
  });

  test('errors name the bad field', () => {
    expect(invalid(ks({ engine: 'mysql' }))).toMatch(/keyspaces\["main"\]\.engine: /);
    expect(invalid(ks({ shards: 3 }))).toMatch(/keyspaces\["main"\]\.shards: a shard count must be a power of two/);
    expect(invalid(ks({ shards: ['-40', '40-8'] }))).toMatch(/keyspaces\["main"\]\.shards\[1\]: "40-8" is not a key range/);
    expect(invalid(ks({ shards: ['-40', '80-'] }))).toMatch(/keyspaces\["main"\]\.shards: shard "80-" must start where the previous one ends/);
    expect(invalid(ks({ regions: ['mars'] }))).toMatch(/keyspaces\["main"\]\.regions\[0\]/);
    expect(invalid(ks({ tables: { users: { vindex: { type: 'md5', column: 'id' } } } }))).toMatch(/keyspaces\["main"\]\.tables\.users\.vindex\.type/);
    expect(invalid(ks({ tables: { users: { vindex: { type: 'hash' } } } }))).toMatch(/tables\.users\.vindex\.column/);
    expect(invalid(ks({ tables: { users: { vindexes: [] } } }))).toMatch(/tables\.users: .*vindexes/);
    expect(invalid(ks({ tables: { t: { vindex: { type: 'range', column: 'x', ranges: [{ from: 0, shard: '00-10' }] } } } }))).toMatch(
      /tables\.t\.vindex\.ranges\[0\]\.shard: shard "00-10" is not a shard of keyspace "main"/,
    );
    expect(invalid(ks({ tables: { t: { type: 'reference', vindex: { type: 'hash', column: 'id' } } } }))).toMatch(
      /tables\.t\.vindex: a reference table is copied to every shard/,
    );
    expect(
      invalid({
        keyspaces: [
          { name: 'a', engine: 'sqlite', shards: 2 },
          { name: 'a', engine: 'pglite', shards: 2 },
        ],
      }),
    ).toMatch(/keyspaces\["a"\]\.name: keyspace "a" is defined twice/);
    expect(invalid({})).toMatch(/keyspaces/);
  });

  test('unknown keyspace is NOT_FOUND and lists the known ones', () => {
    expect(() => keyspaceOf(DEFAULT_VSCHEMA, 'nope')).toThrow(/keyspace "nope" does not exist \(known: main, pg\)/);
  });
});
