/**
 * Postgres protocol messages after startup (protocol 3.0, "Message Formats"), pure: what the
 * frontend sends decoded from its bytes, what the backend sends encoded to bytes. pg-gateway
 * handles startup, TLS negotiation and the password exchange; everything else is here.
 */
import { VitessError } from '../../rpc/errors.js';

/** A message from the frontend, decoded. */
export type FrontendMessage =
  | { type: 'query'; sql: string }
  | { type: 'parse'; name: string; sql: string; paramTypes: number[] }
  | { type: 'bind'; portal: string; statement: string; paramFormats: number[]; params: (Buffer | null)[]; resultFormats: number[] }
  | { type: 'describe'; target: 'statement' | 'portal'; name: string }
  | { type: 'execute'; portal: string; maxRows: number }
  | { type: 'close'; target: 'statement' | 'portal'; name: string }
  | { type: 'sync' }
  | { type: 'flush' }
  | { type: 'terminate' }
  | { type: 'other'; code: string };

class Reader {
  #at = 5; // after the type byte and the length
  constructor(private readonly b: Buffer) {}

  byte(): string {
    return String.fromCharCode(this.b[this.#at++]!);
  }

  int16(): number {
    const v = this.b.readInt16BE(this.#at);
    this.#at += 2;
    return v;
  }

  int32(): number {
    const v = this.b.readInt32BE(this.#at);
    this.#at += 4;
    return v;
  }

  cstring(): string {
    const end = this.b.indexOf(0, this.#at);
    if (end < 0) throw new VitessError('INVALID', 'malformed message: a string is not terminated');
    const s = this.b.toString('utf8', this.#at, end);
    this.#at = end + 1;
    return s;
  }

  bytes(n: number): Buffer {
    const v = this.b.subarray(this.#at, this.#at + n);
    this.#at += n;
    return v;
  }
}

const target = (c: string): 'statement' | 'portal' => {
  if (c === 'S') return 'statement';
  if (c === 'P') return 'portal';
  throw new VitessError('INVALID', `malformed message: "${c}" is neither S (statement) nor P (portal)`);
};

/** One whole frontend message (type byte, length, body). */
export function decodeFrontend(msg: Buffer): FrontendMessage {
  const code = String.fromCharCode(msg[0]!);
  const r = new Reader(msg);
  switch (code) {
    case 'Q':
      return { type: 'query', sql: r.cstring() };
    case 'P': {
      const name = r.cstring();
      const sql = r.cstring();
      const n = r.int16();
      return { type: 'parse', name, sql, paramTypes: Array.from({ length: n }, () => r.int32()) };
    }
    case 'B': {
      const portal = r.cstring();
      const statement = r.cstring();
      const paramFormats = Array.from({ length: r.int16() }, () => r.int16());
      const params = Array.from({ length: r.int16() }, () => {
        const len = r.int32();
        return len < 0 ? null : Buffer.from(r.bytes(len));
      });
      const resultFormats = Array.from({ length: r.int16() }, () => r.int16());
      return { type: 'bind', portal, statement, paramFormats, params, resultFormats };
    }
    case 'D': {
      const t = target(r.byte());
      return { type: 'describe', target: t, name: r.cstring() };
    }
    case 'E':
      return { type: 'execute', portal: r.cstring(), maxRows: r.int32() };
    case 'C': {
      const t = target(r.byte());
      return { type: 'close', target: t, name: r.cstring() };
    }
    case 'S':
      return { type: 'sync' };
    case 'H':
      return { type: 'flush' };
    case 'X':
      return { type: 'terminate' };
    default:
      return { type: 'other', code };
  }
}

/**
 * The largest frontend message taken: far above what one statement and its parameters can be
 * once they reach VTGate, and a bound on what a client can make the proxy buffer.
 */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

/** Cuts a byte stream into whole frontend messages (type byte, then a length that counts itself). */
export class MessageFramer {
  #pending: Buffer = Buffer.alloc(0);

  /** The messages completed by `chunk`, in order; a partial one waits for the next chunk. */
  push(chunk: Buffer): Buffer[] {
    this.#pending = this.#pending.length ? Buffer.concat([this.#pending, chunk]) : chunk;
    const out: Buffer[] = [];
    let at = 0;
    while (this.#pending.length - at >= 5) {
      const len = this.#pending.readInt32BE(at + 1);
      if (len < 4) throw new VitessError('INVALID', `malformed message: length ${len}`);
      if (len > MAX_MESSAGE_BYTES)
        throw new VitessError('INVALID', `message of ${len} bytes is over the proxy's limit of ${MAX_MESSAGE_BYTES} bytes`, { limit: 'message size' });
      if (this.#pending.length - at < 1 + len) break;
      out.push(this.#pending.subarray(at, at + 1 + len));
      at += 1 + len;
    }
    this.#pending = this.#pending.subarray(at);
    return out;
  }
}

/** The format code of parameter or column `i`: none given is text, one applies to all (Bind). */
export function formatAt(formats: readonly number[], i: number): number {
  return formats.length === 0 ? 0 : formats.length === 1 ? formats[0]! : (formats[i] ?? 0);
}

// ---- backend messages -----------------------------------------------------------------------

class Writer {
  readonly #parts: Buffer[] = [];

  int16(v: number): this {
    const b = Buffer.alloc(2);
    b.writeInt16BE(v);
    this.#parts.push(b);
    return this;
  }

  int32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeInt32BE(v);
    this.#parts.push(b);
    return this;
  }

  cstring(s: string): this {
    this.#parts.push(Buffer.from(s, 'utf8'), Buffer.from([0]));
    return this;
  }

  bytes(b: Buffer): this {
    this.#parts.push(b);
    return this;
  }

  message(code: string): Buffer {
    const body = Buffer.concat(this.#parts);
    const head = Buffer.alloc(5);
    head.write(code, 0, 'latin1');
    head.writeInt32BE(body.length + 4, 1);
    return Buffer.concat([head, body]);
  }
}

const empty = (code: string): Buffer => new Writer().message(code);

export const parseComplete = (): Buffer => empty('1');
export const bindComplete = (): Buffer => empty('2');
export const closeComplete = (): Buffer => empty('3');
export const noData = (): Buffer => empty('n');
export const portalSuspended = (): Buffer => empty('s');
export const emptyQueryResponse = (): Buffer => empty('I');

/** 'I' idle, 'T' in a transaction, 'E' in a failed transaction. */
export type TransactionStatus = 'I' | 'T' | 'E';
export const readyForQuery = (status: TransactionStatus): Buffer => new Writer().bytes(Buffer.from(status, 'latin1')).message('Z');

export const commandComplete = (tag: string): Buffer => new Writer().cstring(tag).message('C');

export const parameterStatus = (name: string, value: string): Buffer => new Writer().cstring(name).cstring(value).message('S');

export const parameterDescription = (oids: readonly number[]): Buffer => {
  const w = new Writer().int16(oids.length);
  for (const oid of oids) w.int32(oid);
  return w.message('t');
};

export interface ColumnDescription {
  name: string;
  oid: number;
  size: number;
  format: number;
}

export function rowDescription(columns: readonly ColumnDescription[]): Buffer {
  const w = new Writer().int16(columns.length);
  for (const c of columns) w.cstring(c.name).int32(0).int16(0).int32(c.oid).int16(c.size).int32(-1).int16(c.format);
  return w.message('T');
}

export function dataRow(cells: readonly (Buffer | null)[]): Buffer {
  const w = new Writer().int16(cells.length);
  for (const c of cells) {
    if (c === null) w.int32(-1);
    else w.int32(c.length).bytes(c);
  }
  return w.message('D');
}

/** The fields of an ErrorResponse or NoticeResponse ("Error and Notice Message Fields"). */
export interface Notice {
  severity: 'ERROR' | 'FATAL' | 'WARNING' | 'NOTICE';
  code: string;
  message: string;
  detail?: string;
  hint?: string;
  position?: number;
  table?: string;
  column?: string;
  constraint?: string;
}

function notice(n: Notice, code: 'E' | 'N'): Buffer {
  const w = new Writer();
  const field = (f: string, v: string | number | undefined) => {
    if (v !== undefined) w.bytes(Buffer.from(f, 'latin1')).cstring(String(v));
  };
  field('S', n.severity);
  field('V', n.severity);
  field('C', n.code);
  field('M', n.message);
  field('D', n.detail);
  field('H', n.hint);
  field('P', n.position);
  field('t', n.table);
  field('c', n.column);
  field('n', n.constraint);
  return w.bytes(Buffer.from([0])).message(code);
}

export const errorResponse = (n: Notice): Buffer => notice(n, 'E');
export const noticeResponse = (n: Notice): Buffer => notice(n, 'N');
