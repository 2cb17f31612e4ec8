/**
 * VTSequence: the global sequences of one keyspace (DO `sequence/<keyspace>`), and the registry
 * of which sharded-table columns draw from them (SERIAL, BIGSERIAL, DEFAULT nextval(…)). VTGate
 * takes ids in blocks (router/sequence.ts). The high-water mark is on disk before a block is
 * handed out, so no id is handed out twice, even across crashes (a crash only skips ids).
 */
import { DurableObject } from 'cloudflare:workers';
import { encodeError, VitessError } from '../rpc/errors.js';
import type { Env } from './topology.js';

/** A column filled from a sequence when an INSERT leaves it out. */
export interface SequenceColumn {
  table: string;
  column: string;
  sequence: string;
}

/** Ids stay within JavaScript's exact integers (and int8). */
const MAX_ID = Number.MAX_SAFE_INTEGER;

export class VTSequence extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS _vt_sequences (name TEXT PRIMARY KEY, next INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS _vt_sequence_columns (tbl TEXT NOT NULL, col TEXT NOT NULL, sequence TEXT NOT NULL, PRIMARY KEY (tbl, col))`);
  }

  /** The next `count` ids of `sequence` (created at 1 on first use): `first … first + count - 1`. */
  async allocate(sequence: string, count: number): Promise<{ first: number; count: number }> {
    try {
      if (!Number.isSafeInteger(count) || count < 1 || count > 1_000_000) throw new VitessError('INVALID', `a sequence block is 1 to 1,000,000 ids, not ${count}`, { limit: 'sequence block' });
      const [row] = [...this.ctx.storage.sql.exec('SELECT next FROM _vt_sequences WHERE name = ?', sequence)];
      const first = row ? Number(row.next) : 1;
      if (first + count - 1 > MAX_ID) throw new VitessError('LIMIT_EXCEEDED', `sequence "${sequence}" is exhausted (ids up to ${MAX_ID})`, { limit: 'sequence range' });
      this.ctx.storage.sql.exec('INSERT OR REPLACE INTO _vt_sequences (name, next) VALUES (?, ?)', sequence, first + count);
      // The new high-water mark is durable before any id of the block leaves.
      await this.ctx.storage.sync();
      return { first, count };
    } catch (e) {
      throw encodeError(e);
    }
  }

  /** Notes that `table.column` draws from `sequence` (idempotent; a table created again replaces its entries). */
  register(table: string, columns: { column: string; sequence: string }[]): void {
    this.ctx.storage.sql.exec('DELETE FROM _vt_sequence_columns WHERE tbl = ?', table);
    for (const c of columns) this.ctx.storage.sql.exec('INSERT INTO _vt_sequence_columns (tbl, col, sequence) VALUES (?, ?, ?)', table, c.column, c.sequence);
  }

  columns(): SequenceColumn[] {
    return [...this.ctx.storage.sql.exec('SELECT tbl, col, sequence FROM _vt_sequence_columns ORDER BY tbl, col')]
      .map((r) => ({ table: String(r.tbl), column: String(r.col), sequence: String(r.sequence) }));
  }
}
