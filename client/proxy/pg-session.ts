/**
 * One Postgres connection of `vitess proxy`, after authentication: the simple and extended
 * query protocols over one `VitessClient` WebSocket session, with BEGIN/COMMIT/ROLLBACK mapped
 * onto its interactive transaction (docs/proxy.md). Messages are handled one at a time, in order.
 */
import { VitessError } from '../../rpc/errors.js';
import type { Row } from '../../rpc/results.js';
import type { SqlValue } from '../../rpc/values.js';
import { isBlank, splitStatements } from '../cli/split.js';
import type { VitessClient } from '../client.js';
import { toVitessError } from '../failure.js';
import type { Transaction } from '../transaction.js';
import { errorNotice, SQLSTATE } from './pg-errors.js';
import {
  bindComplete,
  closeComplete,
  commandComplete,
  dataRow,
  decodeFrontend,
  emptyQueryResponse,
  errorResponse,
  formatAt,
  noData,
  noticeResponse,
  parameterDescription,
  parseComplete,
  portalSuspended,
  readyForQuery,
  rowDescription,
  type FrontendMessage,
  type Notice,
  type TransactionStatus,
} from './pg-messages.js';
import { actionOf, commandTag, isReadOnly, paramCount, type Action } from './pg-statements.js';
import { columnsOf, OID, paramFromBinary, paramFromText, toBinary, toText, typeSize, type Column } from './pg-values.js';

/** An error that already carries its Postgres fields (one VTGate cannot have sent). */
class PgError extends Error {
  constructor(readonly notice: Notice) {
    super(notice.message);
  }
}

const pgError = (code: string, message: string): PgError => new PgError({ severity: 'ERROR', code, message });

function noticeOf(e: unknown): Notice {
  return e instanceof PgError ? e.notice : errorNotice(toVitessError(e));
}

/** A statement's result as the protocol sends it. */
interface Outcome {
  /** null: the statement returns no rows (no RowDescription, NoData). */
  columns: Column[] | null;
  rows: Row[];
  tag: string;
  warning?: Notice;
}

interface Prepared {
  sql: string;
  /** The declared type of each `$n` (0: none). */
  paramTypes: number[];
}

interface Portal {
  statement: Prepared;
  params: SqlValue[];
  resultFormats: number[];
  outcome?: Outcome;
  /** Rows already sent (Execute with a row limit). */
  sent: number;
}

const ROLLED_BACK = Symbol('rolled back');
/** A large result goes out in pieces of about this size. */
const FLUSH_BYTES = 64 * 1024;

/** A `client.transaction` held open across protocol messages: it ends when COMMIT or ROLLBACK decides. */
class OpenTransaction {
  readonly tx: Promise<Transaction>;
  readonly #done: Promise<void>;
  #decide!: (commit: boolean) => void;

  constructor(client: VitessClient) {
    const decision = new Promise<boolean>((resolve) => (this.#decide = resolve));
    let ready!: (tx: Transaction) => void;
    const started = new Promise<Transaction>((resolve) => (ready = resolve));
    this.#done = client.transaction(async (tx) => {
      ready(tx);
      if (!(await decision)) throw ROLLED_BACK;
    });
    this.tx = Promise.race([
      started,
      this.#done.then(() => {
        throw new VitessError('INTERNAL', 'the transaction ended before it began');
      }),
    ]);
    // A transaction that failed to open fails its first statement; with none, nothing waits on it.
    this.tx.catch(() => undefined);
  }

  /** Commits or rolls back. A failed commit throws; a rollback always succeeds (what failed is rolled back anyway). Over either way. */
  async end(commit: boolean): Promise<void> {
    this.#decide(commit);
    try {
      await this.#done;
    } catch (e) {
      if (commit) throw e;
    }
  }
}

const warning = (code: string, message: string): Notice => ({ severity: 'WARNING', code, message });

export class PgSession {
  readonly #client: VitessClient;
  readonly #write: (b: Buffer) => void;
  /** Messages not yet written: like Postgres, the answer goes out whole at ReadyForQuery or Flush. */
  #out: Buffer[] = [];
  #outBytes = 0;
  readonly #statements = new Map<string, Prepared>();
  readonly #portals = new Map<string, Portal>();
  #tx: OpenTransaction | null = null;
  /** In a transaction a statement failed in: everything but COMMIT/ROLLBACK is refused (Postgres's 'E'). */
  #failed = false;
  /** After an error in the extended protocol, messages are skipped until Sync. */
  #skipToSync = false;
  #queue: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(client: VitessClient, write: (b: Buffer) => void) {
    this.#client = client;
    this.#write = write;
  }

  #send(b: Buffer): void {
    this.#out.push(b);
    this.#outBytes += b.length;
    if (this.#outBytes >= FLUSH_BYTES) this.#flush();
  }

  #flush(): void {
    if (this.#out.length === 0) return;
    this.#write(Buffer.concat(this.#out));
    this.#out = [];
    this.#outBytes = 0;
  }

  get status(): TransactionStatus {
    return this.#tx ? (this.#failed ? 'E' : 'T') : 'I';
  }

  /** Takes one whole frontend message; `onTerminate` runs when the frontend says goodbye (or the proxy gives up on it). */
  receive(msg: Buffer, onTerminate: () => void): void {
    this.#queue = this.#queue
      .then(async () => {
        if (this.#closed) return;
        const m = decodeFrontend(msg);
        if (m.type === 'terminate') return onTerminate();
        await this.#handle(m);
        // ReadyForQuery ends an answer; Flush asks for what there is.
        if (m.type === 'query' || m.type === 'sync' || m.type === 'flush') this.#flush();
      })
      .catch((e: unknown) => {
        // A malformed message: the stream cannot be trusted any more.
        this.#send(errorResponse({ ...noticeOf(e), severity: 'FATAL', code: SQLSTATE.protocolViolation }));
        this.#flush();
        onTerminate();
      });
  }

  /** The connection is gone: an open transaction rolls back, the WebSocket closes. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#queue.catch(() => undefined);
    const tx = this.#tx;
    this.#tx = null;
    await tx?.end(false);
    await this.#client.disconnect();
  }

  async #handle(m: Exclude<FrontendMessage, { type: 'terminate' }>): Promise<void> {
    if (m.type === 'query') return this.#simpleQuery(m.sql);
    if (m.type === 'sync') {
      this.#skipToSync = false;
      this.#portals.delete('');
      this.#send(readyForQuery(this.status));
      return;
    }
    if (m.type === 'flush' || this.#skipToSync) return;
    try {
      await this.#extended(m);
    } catch (e) {
      this.#fail(e);
      this.#skipToSync = true;
    }
  }

  /** Sends an error; inside a transaction, the transaction has failed. */
  #fail(e: unknown): void {
    this.#send(errorResponse(noticeOf(e)));
    if (this.#tx) this.#failed = true;
  }

  // ---- simple query protocol ----------------------------------------------------------------

  async #simpleQuery(text: string): Promise<void> {
    const { statements, rest } = splitStatements(text);
    const all = [...statements, rest.trim()].filter((s) => s && !isBlank(s));
    if (all.length === 0) this.#send(emptyQueryResponse());
    for (const sql of all) {
      try {
        const out = await this.#run(sql, []);
        this.#sendOutcome(out);
      } catch (e) {
        // Postgres skips the rest of the message after an error.
        this.#fail(e);
        break;
      }
    }
    this.#send(readyForQuery(this.status));
  }

  // ---- extended query protocol --------------------------------------------------------------

  async #extended(m: Exclude<FrontendMessage, { type: 'query' | 'sync' | 'flush' | 'terminate' }>): Promise<void> {
    switch (m.type) {
      case 'parse': {
        if (m.name !== '' && this.#statements.has(m.name)) throw pgError('42P05', `prepared statement "${m.name}" already exists`);
        const { statements, rest } = splitStatements(m.sql);
        if (statements.length + (isBlank(rest) ? 0 : 1) > 1) throw pgError(SQLSTATE.syntaxError, 'cannot insert multiple commands into a prepared statement');
        const n = Math.max(paramCount(m.sql), m.paramTypes.length);
        this.#statements.set(m.name, { sql: m.sql, paramTypes: Array.from({ length: n }, (_, i) => m.paramTypes[i] ?? 0) });
        this.#send(parseComplete());
        return;
      }
      case 'bind': {
        const statement = this.#statement(m.statement);
        if (m.params.length !== statement.paramTypes.length) {
          throw pgError(
            SQLSTATE.protocolViolation,
            `bind message supplies ${m.params.length} parameters, but prepared statement "${m.statement}" requires ${statement.paramTypes.length}`,
          );
        }
        const params = m.params.map((p, i) => {
          if (p === null) return null;
          const oid = statement.paramTypes[i]!;
          try {
            return formatAt(m.paramFormats, i) === 1 ? paramFromBinary(p, oid) : paramFromText(p.toString('utf8'), oid);
          } catch (e) {
            const err = toVitessError(e);
            throw new VitessError(err.code, `parameter $${i + 1}: ${err.message}`, err.details);
          }
        });
        if (m.portal !== '' && this.#portals.has(m.portal)) throw pgError('42P03', `portal "${m.portal}" already exists`);
        this.#portals.set(m.portal, { statement, params, resultFormats: m.resultFormats, sent: 0 });
        this.#send(bindComplete());
        return;
      }
      case 'describe': {
        if (m.target === 'statement') return this.#describeStatement(this.#statement(m.name));
        const portal = this.#portal(m.name);
        portal.outcome ??= await this.#run(portal.statement.sql, portal.params);
        const { columns } = portal.outcome;
        this.#send(columns ? rowDescription(this.#describe(columns, portal.resultFormats)) : noData());
        return;
      }
      case 'execute': {
        const portal = this.#portal(m.portal);
        portal.outcome ??= await this.#run(portal.statement.sql, portal.params);
        const out = portal.outcome;
        const end = m.maxRows > 0 ? Math.min(out.rows.length, portal.sent + m.maxRows) : out.rows.length;
        if (portal.sent === 0 && out.warning) this.#send(noticeResponse(out.warning));
        if (out.columns) this.#sendRows(out.columns, out.rows.slice(portal.sent, end), portal.resultFormats);
        portal.sent = end;
        this.#send(end < out.rows.length ? portalSuspended() : commandComplete(out.tag));
        return;
      }
      case 'close':
        if (m.target === 'statement') this.#statements.delete(m.name);
        else this.#portals.delete(m.name);
        this.#send(closeComplete());
        return;
      default:
        throw pgError(SQLSTATE.featureNotSupported, `message type "${m.code}" is not supported by vitess proxy (COPY and function calls are not)`);
    }
  }

  #statement(name: string): Prepared {
    const s = this.#statements.get(name);
    if (!s) throw pgError(SQLSTATE.invalidPreparedStatement, `prepared statement "${name}" does not exist`);
    return s;
  }

  #portal(name: string): Portal {
    const p = this.#portals.get(name);
    if (!p) throw pgError(SQLSTATE.invalidCursorName, `portal "${name}" does not exist`);
    return p;
  }

  /**
   * A statement's parameters and columns before it is bound. Undeclared parameters are reported
   * as text (the client then sends text, which is read as Postgres would resolve it). A query's
   * columns come from running it with every parameter NULL (it only reads, outside any
   * transaction); other statements report no rows.
   */
  async #describeStatement(s: Prepared): Promise<void> {
    this.#send(parameterDescription(s.paramTypes.map((oid) => oid || OID.text)));
    if (!isReadOnly(s.sql)) {
      this.#send(noData());
      return;
    }
    try {
      const r = await this.#client.query(
        s.sql,
        s.paramTypes.map(() => null),
      );
      this.#send(rowDescription(this.#describe(columnsOf(r.fields, r.rows), [])));
    } catch {
      this.#send(noData());
    }
  }

  // ---- running statements -------------------------------------------------------------------

  #describe(columns: Column[], formats: number[]) {
    return columns.map((c, i) => ({ name: c.name, oid: c.oid, size: typeSize(c.oid), format: formatAt(formats, i) }));
  }

  #sendRows(columns: Column[], rows: Row[], formats: number[]): void {
    for (const row of rows) {
      this.#send(
        dataRow(
          columns.map((c, i) => {
            const v = row[c.name];
            if (v === null || v === undefined) return null;
            return formatAt(formats, i) === 1 ? toBinary(v, c.oid) : Buffer.from(toText(v, c.oid), 'utf8');
          }),
        ),
      );
    }
  }

  /** A statement's whole result, in text format (the simple query protocol). */
  #sendOutcome(out: Outcome): void {
    if (out.warning) this.#send(noticeResponse(out.warning));
    if (out.columns) {
      this.#send(rowDescription(this.#describe(out.columns, [])));
      this.#sendRows(out.columns, out.rows, []);
    }
    this.#send(commandComplete(out.tag));
  }

  /** Runs one statement: transaction control and session settings here, the rest through VTGate. */
  async #run(sql: string, params: SqlValue[]): Promise<Outcome> {
    const action: Action = actionOf(sql);
    const done = (tag: string, warn?: Notice): Outcome => ({ columns: null, rows: [], tag, ...(warn && { warning: warn }) });
    if (this.#failed && action.kind !== 'commit' && action.kind !== 'rollback') {
      throw pgError(SQLSTATE.inFailedTransaction, 'current transaction is aborted, commands ignored until end of transaction block');
    }
    switch (action.kind) {
      case 'begin':
        if (this.#tx) return done('BEGIN', warning('25001', 'there is already a transaction in progress'));
        this.#tx = new OpenTransaction(this.#client);
        this.#failed = false;
        return done('BEGIN');
      case 'commit':
      case 'rollback': {
        const tag = action.kind === 'commit' ? 'COMMIT' : 'ROLLBACK';
        const tx = this.#tx;
        if (!tx) return done(tag, warning('25P01', 'there is no transaction in progress'));
        const commit = action.kind === 'commit' && !this.#failed;
        this.#tx = null;
        this.#failed = false;
        await tx.end(commit);
        // COMMIT of a failed transaction rolls it back, and says so.
        return done(commit ? 'COMMIT' : 'ROLLBACK');
      }
      case 'set':
        return done(action.tag);
      case 'deallocate':
        if (action.name === null) this.#statements.clear();
        else if (!this.#statements.delete(action.name)) throw pgError(SQLSTATE.invalidPreparedStatement, `prepared statement "${action.name}" does not exist`);
        return done(action.tag);
      case 'forward':
        return this.#forward(sql, params);
    }
  }

  async #forward(sql: string, params: SqlValue[]): Promise<Outcome> {
    const read = isReadOnly(sql);
    if (this.#tx) {
      const tx = await this.#tx.tx;
      if (read) {
        const r = await tx.query(sql, params);
        return { columns: columnsOf(r.fields, r.rows), rows: r.rows, tag: commandTag(sql, r.rows.length, 0) };
      }
      const r = await tx.execute(sql, params);
      const rows = r.rows ?? [];
      return { columns: r.rows ? columnsOf([], rows) : null, rows, tag: commandTag(sql, rows.length, r.affected) };
    }
    const [r] = await this.#client.batch([{ sql, params }]);
    if (!r) throw new VitessError('INTERNAL', 'VTGate returned no result');
    const returnsRows = r.fields.length > 0 || read;
    return { columns: returnsRows ? columnsOf(r.fields, r.rows) : null, rows: r.rows, tag: commandTag(sql, r.rows.length, r.affected) };
  }
}
