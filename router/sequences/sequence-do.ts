/**
 * VTSequence: the global sequences of one keyspace (DO `sequence/<keyspace>`), and the registry
 * of which sharded-table columns draw from them (SERIAL, BIGSERIAL, DEFAULT nextval(…)). VTGate
 * takes ids in blocks (router/sequences/sequence.ts). The high-water mark is on disk before a block is
 * handed out, so no id is handed out twice, even across crashes (a crash only skips ids).
 */
import { DurableObject } from 'cloudflare:workers';
import type { SequenceApi } from '../../rpc/do-api.js';
import { encodeError, guarded, VitessError } from '../../rpc/errors.js';
import type { Env } from '../topology.js';

/** A column filled from a sequence when an INSERT leaves it out. */
export interface SequenceColumn {
  table: string;
  column: string;
  sequence: string;
}

/** Ids stay within JavaScript's exact integers (and int8). */
const MAX_ID = Number.MAX_SAFE_INTEGER;

export class VTSequence extends DurableObject<Env> implements SequenceApi {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS _vt_sequences (name TEXT PRIMARY KEY, next INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS _vt_sequence_columns (tbl TEXT NOT NULL, col TEXT NOT NULL, sequence TEXT NOT NULL, PRIMARY KEY (tbl, col))`);
  }

  private exists(name: string): boolean {
    return [...this.ctx.storage.sql.exec('SELECT 1 FROM _vt_sequences WHERE name = ?', name)].length > 0;
  }

  private unknown(name: string): VitessError {
    return new VitessError('NOT_FOUND', `sequence "${name}" does not exist: create it with CREATE SEQUENCE ${name}, or declare the column SERIAL`, {
      construct: `sequence ${name}`,
    });
  }

  /** The next `count` ids of `sequence`: `first … first + count - 1`. */
  allocate(sequence: string, count: number): Promise<{ first: number; count: number }> {
    return guarded(async () => {
      if (!Number.isSafeInteger(count) || count < 1 || count > 1_000_000)
        throw new VitessError('INVALID', `a sequence block is 1 to 1,000,000 ids, not ${count}`, { limit: 'sequence block' });
      const [row] = [...this.ctx.storage.sql.exec('SELECT next FROM _vt_sequences WHERE name = ?', sequence)];
      if (!row) throw this.unknown(sequence);
      const first = Number(row.next);
      if (first + count - 1 > MAX_ID)
        throw new VitessError('LIMIT_EXCEEDED', `sequence "${sequence}" is exhausted (ids up to ${MAX_ID})`, { limit: 'sequence range' });
      this.ctx.storage.sql.exec('UPDATE _vt_sequences SET next = ? WHERE name = ?', first + count, sequence);
      // The new high-water mark is durable before any id of the block leaves.
      await this.ctx.storage.sync();
      return { first, count };
    });
  }

  /** CREATE SEQUENCE: a new sequence whose first id is `start`. */
  define(name: string, start: number, ifNotExists: boolean): Promise<void> {
    return guarded(async () => {
      if (this.exists(name)) {
        if (ifNotExists) return;
        throw new VitessError('CONFLICT', `sequence "${name}" already exists (CREATE SEQUENCE IF NOT EXISTS keeps it)`, { construct: `sequence ${name}` });
      }
      this.ctx.storage.sql.exec('INSERT INTO _vt_sequences (name, next) VALUES (?, ?)', name, start);
      await this.ctx.storage.sync();
    });
  }

  /** Fails with NOT_FOUND naming the first of `names` that does not exist. */
  check(names: string[]): void {
    const missing = names.find((n) => !this.exists(n));
    if (missing !== undefined) throw encodeError(this.unknown(missing));
  }

  /**
   * Notes that the columns of `table` draw from these sequences, replacing what was noted for it
   * (none: the table was dropped). A sequence not yet there starts at 1 (a SERIAL column's own);
   * a sequence is never reset, so a table created again never repeats an id.
   */
  async register(table: string, columns: { column: string; sequence: string }[]): Promise<void> {
    this.ctx.storage.transactionSync(() => {
      this.ctx.storage.sql.exec('DELETE FROM _vt_sequence_columns WHERE tbl = ?', table);
      for (const c of columns) {
        this.ctx.storage.sql.exec('INSERT INTO _vt_sequence_columns (tbl, col, sequence) VALUES (?, ?, ?)', table, c.column, c.sequence);
        this.ctx.storage.sql.exec('INSERT OR IGNORE INTO _vt_sequences (name, next) VALUES (?, 1)', c.sequence);
      }
    });
    await this.ctx.storage.sync();
  }

  columns(): SequenceColumn[] {
    return [...this.ctx.storage.sql.exec('SELECT tbl, col, sequence FROM _vt_sequence_columns ORDER BY tbl, col')].map((r) => ({
      table: String(r.tbl),
      column: String(r.col),
      sequence: String(r.sequence),
    }));
  }
}
