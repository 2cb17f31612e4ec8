/**
 * What the proxy decides before VTGate sees a statement (client/proxy/pg-statements.ts) and the
 * SQLSTATE it sends for an error (client/proxy/pg-errors.ts).
 */
import { describe, expect, it } from 'vitest';
import { VitessError } from '../../rpc/errors.js';
import { errorNotice, sqlstateOf } from '../../client/proxy/pg-errors.js';
import { actionOf, commandTag, isReadOnly, paramCount } from '../../client/proxy/pg-statements.js';

describe('command tags', () => {
  it.each([
    ['SELECT * FROM t', 3, 0, 'SELECT 3'],
    ['  -- a comment\n select 1', 1, 0, 'SELECT 1'],
    ['VALUES (1), (2)', 2, 0, 'SELECT 2'],
    ['INSERT INTO t VALUES (1), (2)', 0, 2, 'INSERT 0 2'],
    ['INSERT INTO t VALUES (1) RETURNING id', 1, 1, 'INSERT 0 1'],
    ['UPDATE t SET a = 1', 0, 5, 'UPDATE 5'],
    ['DELETE FROM t', 0, 0, 'DELETE 0'],
    ['WITH x AS (SELECT 1) DELETE FROM t USING x', 0, 4, 'DELETE 4'],
    ['WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x', 2, 2, 'SELECT 2'],
    ['CREATE TABLE t (id INT)', 0, 0, 'CREATE TABLE'],
    ['CREATE UNIQUE INDEX i ON t (a)', 0, 0, 'CREATE INDEX'],
    ['create table if not exists t (id int)', 0, 0, 'CREATE TABLE'],
    ['DROP TABLE IF EXISTS t', 0, 0, 'DROP TABLE'],
    ['ALTER TABLE t ADD COLUMN b TEXT', 0, 0, 'ALTER TABLE'],
    ['TRUNCATE t', 0, 0, 'TRUNCATE TABLE'],
    ['EXPLAIN SELECT 1', 1, 0, 'EXPLAIN'],
  ])('%s → %s', (sql, rows, affected, tag) => {
    expect(commandTag(sql, rows, affected)).toBe(tag);
  });
});

describe('statements', () => {
  it('counts parameters by the highest $n, outside strings, quoted names, dollar quotes and comments', () => {
    expect(paramCount('SELECT $1, $2, $1')).toBe(2);
    expect(paramCount('SELECT \'$3\', "$4", $$ $5 $$, $tag$ $6 $tag$ -- $7\n, /* $8 */ $2')).toBe(2);
    expect(paramCount('SELECT 1')).toBe(0);
  });

  it('knows a query that can change nothing (safe to run to describe its columns)', () => {
    expect(isReadOnly('SELECT * FROM t WHERE id = $1')).toBe(true);
    expect(isReadOnly('WITH a AS (SELECT 1) SELECT * FROM a')).toBe(true);
    expect(isReadOnly("SELECT 'delete' FROM t")).toBe(true);
    expect(isReadOnly('WITH a AS (DELETE FROM t RETURNING *) SELECT * FROM a')).toBe(false);
    expect(isReadOnly('SELECT * INTO t2 FROM t')).toBe(false);
    expect(isReadOnly('INSERT INTO t VALUES (1)')).toBe(false);
    expect(isReadOnly('CREATE TABLE t (id INT)')).toBe(false);
  });

  it('answers transaction control and session settings itself, and forwards the rest', () => {
    expect(actionOf('BEGIN')).toEqual({ kind: 'begin' });
    expect(actionOf('start transaction read write')).toEqual({ kind: 'begin' });
    expect(actionOf('BEGIN ISOLATION LEVEL READ COMMITTED')).toEqual({ kind: 'begin' });
    expect(actionOf('COMMIT')).toEqual({ kind: 'commit' });
    expect(actionOf('end work')).toEqual({ kind: 'commit' });
    expect(actionOf('ROLLBACK')).toEqual({ kind: 'rollback' });
    expect(actionOf('abort')).toEqual({ kind: 'rollback' });
    expect(actionOf("SET client_encoding TO 'UTF8'")).toEqual({ kind: 'set', tag: 'SET' });
    expect(actionOf('SET application_name = psql')).toEqual({ kind: 'set', tag: 'SET' });
    expect(actionOf("SET TIME ZONE 'UTC'")).toEqual({ kind: 'set', tag: 'SET' });
    expect(actionOf('SET extra_float_digits = 3')).toEqual({ kind: 'set', tag: 'SET' });
    expect(actionOf('RESET ALL')).toEqual({ kind: 'set', tag: 'RESET' });
    expect(actionOf('DISCARD ALL')).toEqual({ kind: 'deallocate', name: null, tag: 'DISCARD ALL' });
    expect(actionOf('DEALLOCATE s1')).toEqual({ kind: 'deallocate', name: 's1', tag: 'DEALLOCATE' });
    expect(actionOf('SELECT 1')).toEqual({ kind: 'forward' });
    expect(actionOf('INSERT INTO begin_log VALUES (1)')).toEqual({ kind: 'forward' });
  });

  it('refuses what it cannot honour, naming it', () => {
    expect(() => actionOf('SAVEPOINT s1')).toThrow('SAVEPOINT is not supported by vitess proxy: savepoints are not supported');
    expect(() => actionOf('ROLLBACK TO SAVEPOINT s1')).toThrow(/ROLLBACK TO SAVEPOINT is not supported/);
    expect(() => actionOf('BEGIN ISOLATION LEVEL SERIALIZABLE')).toThrow(/BEGIN ISOLATION LEVEL SERIALIZABLE is not supported/);
    expect(() => actionOf('BEGIN READ ONLY')).toThrow(/BEGIN READ ONLY is not supported/);
    expect(() => actionOf("SET TIME ZONE 'Europe/Paris'")).toThrow(/SET timezone TO Europe\/Paris is not supported/);
    expect(() => actionOf('SET work_mem = 100')).toThrow(/SET work_mem is not supported by vitess proxy: VTGate has no per-session settings/);
    expect(() => actionOf('SET TRANSACTION ISOLATION LEVEL SERIALIZABLE')).toThrow(/SET TRANSACTION is not supported/);
    expect(() => actionOf('LISTEN ch')).toThrow(/LISTEN is not supported by vitess proxy: use vitess watch/);
    expect(() => actionOf('COPY t FROM STDIN')).toThrow(/COPY is not supported by vitess proxy: use vitess load/);
    expect(() => actionOf('COMMIT PREPARED x')).toThrow(/COMMIT PREPARED is not supported/);
    const err = (() => {
      try {
        actionOf('SAVEPOINT s1');
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(VitessError);
    expect(err).toMatchObject({ code: 'UNSUPPORTED', details: { construct: 'SAVEPOINT' } });
  });
});

describe('SQLSTATE of an error', () => {
  it.each([
    ['CONSTRAINT', 'duplicate key value violates unique constraint "t_pkey"', '23505'],
    ['CONSTRAINT', 'unique constraint violated on t (id)', '23505'],
    ['CONSTRAINT', 'null value in column "a" of relation "t" violates not-null constraint', '23502'],
    ['CONSTRAINT', 'not-null constraint violated on t (a)', '23502'],
    ['CONSTRAINT', 'insert or update on table "c" violates foreign key constraint "c_p_fkey"', '23503'],
    ['CONSTRAINT', 'check constraint "positive" violated', '23514'],
    ['CONSTRAINT', 'value too long for type character varying(3)', '22001'],
    ['CONSTRAINT', 'something else', '23000'],
    ['SYNTAX', 'syntax error at or near "SELEC"', '42601'],
    ['NOT_FOUND', 'relation "nosuch" does not exist', '42P01'],
    ['NOT_FOUND', 'table "nosuch" does not exist', '42P01'],
    ['NOT_FOUND', 'column "x" of relation "t" does not exist', '42703'],
    ['NOT_FOUND', 'function nope(integer) does not exist', '42883'],
    ['NOT_FOUND', 'unknown keyspace "nope"', '3D000'],
    ['INVALID', 'relation "t" already exists', '42P07'],
    ['INVALID', 'invalid input syntax for type integer: "x"', '22P02'],
    ['UNSUPPORTED', 'UPDATE may not change "id"', '0A000'],
    ['CONFLICT', 'could not serialize access', '40001'],
    ['TIMEOUT', 'canceling statement due to statement timeout', '57014'],
    ['LIMIT_EXCEEDED', 'too many bound parameters', '54000'],
    ['FORBIDDEN', 'the token does not allow table t', '42501'],
    ['UNAUTHENTICATED', 'no token', '28000'],
    ['UNAVAILABLE', 'the shard is not reachable', '08006'],
    ['INTERNAL', 'boom', 'XX000'],
  ] as const)('%s "%s" → %s', (code, message, state) => {
    expect(sqlstateOf(new VitessError(code, message))).toBe(state);
  });

  it('carries the table, column, constraint and position the error names', () => {
    expect(errorNotice(new VitessError('CONSTRAINT', 'unique constraint violated on t (email)', { table: 't', columns: ['email'] }))).toEqual({
      severity: 'ERROR',
      code: '23505',
      message: 'unique constraint violated on t (email)',
      table: 't',
      column: 'email',
    });
    expect(errorNotice(new VitessError('SYNTAX', 'syntax error at or near "x"', { position: 8 }), 'FATAL')).toMatchObject({ severity: 'FATAL', position: 8 });
  });
});
