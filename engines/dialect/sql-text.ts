// SQL text both dialects (Postgres, SQLite) spell the same, for statements built without the parser.

/** An identifier, quoted (a double quote inside is doubled). */
export const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/** The upsert clause of an INSERT of `cols` keyed by `keys`: a row already there takes the new values. */
export function upsertClause(keys: string[], cols: string[]): string {
  const updates = cols.filter((c) => !keys.includes(c));
  return updates.length
    ? `ON CONFLICT (${keys.map(quoteIdent).join(', ')}) DO UPDATE SET ${updates.map((c) => `${quoteIdent(c)} = EXCLUDED.${quoteIdent(c)}`).join(', ')}`
    : 'ON CONFLICT DO NOTHING';
}
