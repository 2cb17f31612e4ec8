import { VitessError } from '../rpc/errors.js';

interface PgError {
  code?: string;
  message: string;
  constraint?: string;
  table?: string;
  column?: string;
  detail?: string;
  position?: string | number;
}

/** Maps a Postgres error (SQLSTATE) to a typed error that names what is at fault. */
export function pgError(e: unknown): VitessError {
  if (e instanceof VitessError) return e;
  const err = (e ?? {}) as PgError;
  const msg = err.message ?? String(e);
  const code = err.code ?? '';
  const details = {
    ...(err.constraint ? { constraint: err.constraint } : {}),
    ...(err.table ? { table: err.table } : {}),
  };
  if (code.startsWith('23') || code === '22001') {
    const keyCols = /^Key \(([^)]+)\)/
      .exec(err.detail ?? '')?.[1]
      ?.split(',')
      .map((s) => s.trim());
    const columns = keyCols ?? (err.column ? [err.column] : undefined);
    return new VitessError('CONSTRAINT', msg, { ...details, ...(columns ? { columns } : {}) });
  }
  if (code === '42P01' || code === '42703' || code === '42704' || code === '42883') return new VitessError('NOT_FOUND', msg, details);
  if (code === '42601') return new VitessError('SYNTAX', msg, err.position ? { position: Number(err.position) } : {});
  if (code === '42P07' || code === '42701' || code === '42710') return new VitessError('INVALID', msg, details);
  if (code === '40001' || code === '40P01') return new VitessError('CONFLICT', msg, details);
  if (code === '57014') return new VitessError('TIMEOUT', msg, /statement timeout/.test(msg) ? { limit: 'statement timeout' } : {});
  if (code === '53400') return new VitessError('LIMIT_EXCEEDED', msg, /temp_file_limit/.test(msg) ? { limit: 'temporary file size' } : {});
  if (code === '0A000') return new VitessError('UNSUPPORTED', msg);
  if (code.startsWith('54')) return new VitessError('LIMIT_EXCEEDED', msg);
  if (code.startsWith('22') || code.startsWith('42') || code === '08P01') return new VitessError('INVALID', msg, details);
  return new VitessError('INTERNAL', msg);
}
