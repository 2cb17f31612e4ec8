import { parseOne } from './parse.js';

/**
 * Whether a statement only reads: SELECT / VALUES, or WITH whose every part is a SELECT (a
 * data-modifying CTE is a write). Only WITH needs a parse; the rest is the first word. Used by
 * the primary to let reads skip its write lock, and by replicas to refuse writes. (The client's
 * retry test, `isSafeToRetry` in client/statements.ts, is a different, word-based question.)
 */
export function isReadStatement(sql: string): boolean {
  if (/^\s*\(?\s*(SELECT|VALUES)\b/i.test(sql)) return true;
  if (!/^\s*WITH\b/i.test(sql)) return false;
  try {
    const { ast } = parseOne(sql);
    return ast.type === 'with' && ast.bind.every((b) => b.statement.type === 'select') && ast.in.type === 'select';
  } catch {
    return false; // let the engine report it; treat as a write meanwhile
  }
}
