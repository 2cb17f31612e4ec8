import { parse, type Statement } from 'pgsql-ast-parser';
import { VitessError } from '../../rpc/errors.js';

export interface Parsed {
  ast: Statement;
  /** The source text, kept so literals can be rendered exactly as written. */
  source: string;
}

/** Parse exactly one Postgres statement; a syntax error names its position. */
export function parseOne(sql: string): Parsed {
  let statements: Statement[];
  try {
    statements = parse(sql, { locationTracking: true });
  } catch (e) {
    const err = e as { message?: string; token?: { offset?: number; text?: string } };
    const offset = err.token?.offset;
    const near = err.token?.text !== undefined ? ` at or near "${err.token.text}"` : ' at end of input';
    const where = offset !== undefined ? ` (position ${offset + 1})` : '';
    throw new VitessError('SYNTAX', `syntax error${near}${where}`, offset !== undefined ? { position: offset + 1 } : {});
  }
  if (statements.length !== 1) {
    throw new VitessError('UNSUPPORTED', `expected one SQL statement, got ${statements.length}; send several with batch()`, {
      construct: 'multiple statements',
    });
  }
  return { ast: statements[0]!, source: sql };
}
