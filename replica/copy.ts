// Snapshot rows into a replica's tables: the copy phase of a bootstrap.
import { LIMITS } from '../engines/limits.js';
import type { Row, Statement } from '../rpc/results.js';

const q = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/**
 * Multi-row upserts of snapshot rows, each under the bound-parameter limit. Rows already there
 * (applied from the log while copying) are overwritten: the page is the newer state.
 */
export function copyStatements(table: string, primaryKey: string[], rows: Row[]): Statement[] {
  if (!rows.length) return [];
  const cols = Object.keys(rows[0]!);
  const updates = cols.filter((c) => !primaryKey.includes(c));
  const conflict = updates.length
    ? `ON CONFLICT (${primaryKey.map(q).join(', ')}) DO UPDATE SET ${updates.map((c) => `${q(c)} = EXCLUDED.${q(c)}`).join(', ')}`
    : 'ON CONFLICT DO NOTHING';
  const perStatement = Math.max(1, Math.floor(LIMITS.paramsPerStatement / cols.length));
  const out: Statement[] = [];
  for (let i = 0; i < rows.length; i += perStatement) {
    const chunk = rows.slice(i, i + perStatement);
    const values = chunk.map((_, r) => `(${cols.map((_, c) => `$${r * cols.length + c + 1}`).join(', ')})`).join(', ');
    out.push({
      sql: `INSERT INTO ${q(table)} (${cols.map(q).join(', ')}) VALUES ${values} ${conflict}`,
      params: chunk.flatMap((row) => cols.map((c) => row[c] ?? null)),
    });
  }
  return out;
}
