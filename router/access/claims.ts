/**
 * The `vt` claim of a Vitess.do token and its mapping to `Grants` (docs/security.md). Shared by
 * the gateway (verifying) and the CLI (`vitess token create`, signing), so both read one schema.
 */
import { z } from 'zod';
import type { Grants, RowFilter } from './grants.js';

const name = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a SQL identifier');

export const VtClaim = z.strictObject({
  admin: z.boolean().optional(),
  keyspaces: z.array(name).optional(),
  readOnly: z.boolean().optional(),
  tables: z.array(name).optional(),
  /** `{ "orders.tenant_id": 42 }` */
  rows: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*$/, 'TABLE.COLUMN'), z.union([z.string(), z.number()])).optional(),
});
export type VtClaim = z.infer<typeof VtClaim>;

/** Grants from a verified token's `vt` claim (absent = a keyspace user of every keyspace). */
export function grantsOf(vt: unknown): Grants {
  const c = VtClaim.parse(vt ?? {});
  if (c.admin) return { admin: true, keyspaces: '*', readOnly: false, tables: '*', rows: [] };
  const rows: RowFilter[] = Object.entries(c.rows ?? {}).map(([k, value]) => {
    const [table, column] = k.toLowerCase().split('.') as [string, string];
    return { table, column, value };
  });
  return {
    admin: false,
    keyspaces: c.keyspaces ?? '*',
    readOnly: c.readOnly ?? false,
    tables: c.tables ? [...new Set([...c.tables.map((t) => t.toLowerCase()), ...rows.map((r) => r.table)])] : '*',
    rows,
  };
}

/** A `--row TABLE.COLUMN=VALUE` flag: canonical integers become numbers, anything else stays text. */
export function parseRowFlag(flag: string): [string, string | number] {
  const m = /^([A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(flag);
  if (!m) throw new Error(`--row must be TABLE.COLUMN=VALUE, not "${flag}"`);
  const value = m[2]!;
  const n = Number(value);
  return [m[1]!, /^-?(0|[1-9]\d*)$/.test(value) && Number.isSafeInteger(n) ? n : value];
}
