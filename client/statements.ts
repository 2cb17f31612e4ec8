/**
 * Which statements only read, so that sending them twice is harmless. Conservative: anything
 * not recognised as a read counts as a write (and a write that may have run is never retried).
 */

/** Leading keywords of statements that only read. */
const READ_KEYWORDS = new Set(['select', 'values', 'table', 'show', 'explain']);
/** Words that make a read-looking statement write or change state. */
const WRITE_WORDS = /\b(insert|update|delete|merge|into|nextval|setval|analyze|pg_advisory_lock|for\s+(?:no\s+key\s+)?update|for\s+(?:key\s+)?share)\b/i;

/** Strips leading whitespace, comments and opening parentheses. */
function stripLead(sql: string): string {
  let s = sql;
  for (;;) {
    const t = s.replace(/^[\s(]+/, '');
    if (t.startsWith('--')) {
      const nl = t.indexOf('\n');
      s = nl < 0 ? '' : t.slice(nl + 1);
    } else if (t.startsWith('/*')) {
      const end = t.indexOf('*/');
      s = end < 0 ? '' : t.slice(end + 2);
    } else {
      return t;
    }
  }
}

/**
 * Whether `sql` may be sent twice (a retry after a lost answer): a single statement that only
 * reads, judged from its words, not parsed. It begins with SELECT, VALUES, TABLE, SHOW, EXPLAIN
 * or WITH, and nowhere mentions a data-changing word (INSERT, UPDATE, DELETE, MERGE,
 * INTO, nextval, setval, ANALYZE, FOR UPDATE/SHARE, advisory locks). False positives for "write"
 * (e.g. a string literal 'update') only cost a retry; a false "read" could duplicate a write, so
 * the test errs that way. A `;` followed by more text (several statements) counts as a write.
 */
export function isSafeToRetry(sql: string): boolean {
  const s = stripLead(sql);
  const kw = /^[a-z]+/i.exec(s)?.[0]?.toLowerCase();
  if (!kw || !(READ_KEYWORDS.has(kw) || kw === 'with')) return false;
  if (WRITE_WORDS.test(s)) return false;
  const semi = s.indexOf(';');
  return semi < 0 || s.slice(semi + 1).trim() === '';
}
