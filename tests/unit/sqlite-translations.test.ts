// The SQLite engines' cache of translated statements: keyed by the catalog's content, so a DDL
// that leaves the schema as it was keeps the translations, and one that changes it does not.
import { describe, expect, it } from 'vitest';
import type { CatalogColumn } from '../../engines/dialect/sqlite.js';
import { prepareSqlite } from '../../engines/sqlite-codec.js';

const catalog = (type: CatalogColumn['type']) =>
  new Map<string, CatalogColumn[]>([
    [
      't',
      [
        { name: 'id', type: 'int8', notNull: true },
        { name: 'a', type },
      ],
    ],
  ]);

describe('translated statements', () => {
  it('are reused under an equal catalog, even a new object (the catalog reloaded after a DDL)', () => {
    const sql = 'SELECT a FROM t WHERE id = $1';
    const first = prepareSqlite(sql, [1], catalog('int4'), 'libsql').stmt;
    expect(prepareSqlite(sql, [2], catalog('int4'), 'libsql').stmt).toBe(first);
    // Per flavor: DO SQLite binds int8 as text.
    expect(prepareSqlite(sql, [2], catalog('int4'), 'do').stmt).not.toBe(first);
  });

  it('follow the catalog when its content changes', () => {
    const sql = 'SELECT a FROM t WHERE id = $1';
    expect(prepareSqlite(sql, [1], catalog('int4'), 'libsql').stmt.columnTypes).toEqual(['int4']);
    expect(prepareSqlite(sql, [1], catalog('jsonb'), 'libsql').stmt.columnTypes).toEqual(['jsonb']);
    expect(prepareSqlite(sql, [1], catalog('int4'), 'libsql').stmt.columnTypes).toEqual(['int4']);
  });

  it('still check what they bind', () => {
    const sql = 'SELECT a FROM t WHERE id = $1';
    prepareSqlite(sql, [1], catalog('text'), 'libsql');
    expect(() => prepareSqlite(sql, [1, 2], catalog('text'), 'libsql')).toThrow(/2 parameters given, but the statement uses 1/);
  });
});
