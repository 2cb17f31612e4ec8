/**
 * A statement's fingerprint for `/errors`: its text with every literal replaced by `?`, so a
 * recent error shows the statement's shape without the values in it (a tenant's data, a
 * password) — the idea of Vitess's and pg_stat_statements' normalized queries.
 */
const LITERALS = /\$([A-Za-z_]\w*)?\$[\s\S]*?\$\1\$|[EeBbXxNn]?'(?:[^']|'')*'?|(?<![\w$.])(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)(?!\w)/g;

export function fingerprint(sql: string, max = 500): string {
  const f = sql.replace(LITERALS, '?').replace(/\s+/g, ' ').trim();
  return f.length > max ? `${f.slice(0, max)}…` : f;
}
