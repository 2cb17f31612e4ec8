import { VitessError } from '../rpc/errors.js';

/** Maps a SQLite error message (libsql or DO SQLite) to a typed error. */
export function sqliteError(e: unknown): VitessError {
  if (e instanceof VitessError) return e;
  const raw = e instanceof Error ? e.message : String(e);
  // libsql prefixes the code, DO SQLite appends it: keep only SQLite's own words.
  const msg = raw.replace(/^(SQLITE_[A-Z_]+: |Error: )+/, '').replace(/: SQLITE_[A-Z_]+( \(extended: [A-Z_]+\))?$/, '');
  let m: RegExpExecArray | null;
  if ((m = /(UNIQUE|NOT NULL|PRIMARY KEY) constraint failed: ([\w.", ]+)/.exec(msg))) {
    const cols = m[2]!.split(',').map((s) => s.trim());
    const table = cols[0]!.split('.')[0]!;
    const columns = cols.map((c) => c.split('.').pop()!);
    const kind = m[1] === 'NOT NULL' ? 'not-null' : 'unique';
    return new VitessError('CONSTRAINT', `${kind} constraint violated on ${table} (${columns.join(', ')})`, { table, columns });
  }
  if ((m = /CHECK constraint failed: (\w+)_(bool|int2|int4|int8|float4|float8|numeric|json|jsonb|date|timestamp|timestamptz)$/.exec(msg.trim()))) {
    // The dialect's own type CHECKs (sqlite-ddl.ts): Postgres would refuse the input as invalid.
    const [, where = '', type] = m;
    return new VitessError('INVALID', `invalid input for type ${type} (${where.replace('_', '.')})`, { constraint: `${where}_${type}` });
  }
  if ((m = /CHECK constraint failed: (.+)/.exec(msg))) {
    return new VitessError('CONSTRAINT', `check constraint "${m[1]!.trim()}" violated`, { constraint: m[1]!.trim() });
  }
  if (/FOREIGN KEY constraint failed/.test(msg)) return new VitessError('CONSTRAINT', 'foreign key constraint violated', {});
  if ((m = /no such table: ([\w.]+)/.exec(msg))) return new VitessError('NOT_FOUND', `table "${m[1]}" does not exist`, { table: m[1]! });
  if ((m = /no such column: ([\w."]+)/.exec(msg))) return new VitessError('NOT_FOUND', `column ${m[1]} does not exist`, { columns: [m[1]!.replace(/"/g, '')] });
  if ((m = /table "?(\w+)"? already exists/.exec(msg))) return new VitessError('INVALID', `table "${m[1]}" already exists`, { table: m[1]! });
  if ((m = /index "?(\w+)"? already exists/.exec(msg))) return new VitessError('INVALID', `index "${m[1]}" already exists`);
  if ((m = /no such index: (\w+)/.exec(msg))) return new VitessError('NOT_FOUND', `index "${m[1]}" does not exist`);
  if (/too many SQL variables/.test(msg))
    return new VitessError('LIMIT_EXCEEDED', 'too many bound parameters in one statement', { limit: 'parameters per statement' });
  if (/string or blob too big|SQLITE_TOOBIG/.test(raw)) return new VitessError('LIMIT_EXCEEDED', 'value too large (limit 2 MB)', { limit: 'value size' });
  if (/datatype mismatch|malformed JSON/.test(msg)) return new VitessError('INVALID', msg);
  if (/syntax error|incomplete input/.test(msg)) return new VitessError('SYNTAX', msg);
  if (/database is locked|SQLITE_BUSY/.test(raw)) return new VitessError('CONFLICT', msg);
  return new VitessError('INTERNAL', msg);
}
