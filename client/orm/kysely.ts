/**
 * `@dotdo/vitess/kysely`: a Kysely dialect over a Vitess.do client. Kysely's own Postgres query
 * compiler, adapter and introspector; a driver whose statements go through the client (one
 * bookmark: read-your-writes from statement to statement) and whose transactions are
 * `client.transaction`s, held open between Kysely's begin and its commit or rollback. Rows come
 * with the values node-postgres gives (values.ts, docs/orm.md).
 */
import {
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type CompiledQuery,
  type DatabaseConnection,
  type DatabaseIntrospector,
  type Dialect,
  type DialectAdapter,
  type Driver,
  type Kysely,
  type QueryCompiler,
  type QueryResult,
  type TransactionSettings,
} from 'kysely';
import { VitessError } from '../../rpc/errors.js';
import type { VitessClient } from '../client.js';
import type { Transaction } from '../transaction.js';
import { pgRow, sqlParam } from './values.js';

export interface VitessDialectConfig {
  /** The client every statement goes through (its keyspace, token, bookmark and transport). */
  client: VitessClient;
}

const DML_NODES = new Set(['InsertQueryNode', 'UpdateQueryNode', 'DeleteQueryNode', 'MergeQueryNode']);
const DML_TEXT = /^\s*(?:insert|update|delete|merge)\b/i;

/** Thrown into the held transaction function to make `client.transaction` roll back. */
const ROLLBACK = Symbol('rollback');

/**
 * One Kysely connection: statements go to the client, or, between `begin` and `commit`/`rollback`,
 * to the transaction. `client.transaction` takes a function: `begin` starts one whose function
 * waits on a promise that `commit` resolves and `rollback` rejects.
 */
class VitessConnection implements DatabaseConnection {
  #tx: Transaction | undefined;
  #end: { resolve(): void; reject(e: unknown): void } | undefined;
  #done: Promise<void> | undefined;

  constructor(private readonly client: VitessClient) {}

  async executeQuery<R>(compiled: CompiledQuery): Promise<QueryResult<R>> {
    const target = this.#tx ?? this.client;
    const r = await target.execute(compiled.sql, compiled.parameters.map(sqlParam));
    const fields = r.fields ?? [];
    const rows = (r.rows ?? []).map((row) => pgRow(row, fields, 'date')) as R[];
    const dml = DML_NODES.has(compiled.query.kind) || (compiled.query.kind === 'RawNode' && DML_TEXT.test(compiled.sql));
    return dml ? { rows, numAffectedRows: BigInt(r.affected) } : { rows };
  }

  async *streamQuery<R>(compiled: CompiledQuery, chunkSize = 100): AsyncIterableIterator<QueryResult<R>> {
    const { rows } = await this.executeQuery<R>(compiled);
    for (let i = 0; i < rows.length; i += chunkSize) yield { rows: rows.slice(i, i + chunkSize) };
  }

  async begin(): Promise<void> {
    if (this.#tx) throw new VitessError('INVALID', 'a transaction is already open on this connection');
    let entered!: (tx: Transaction) => void;
    const inside = new Promise<Transaction>((resolve) => {
      entered = resolve;
    });
    const held = new Promise<void>((resolve, reject) => {
      this.#end = { resolve, reject };
    });
    const done = this.client.transaction(async (tx) => {
      entered(tx);
      await held;
    });
    // A transaction that never opened (no WebSocket) fails `done` before `inside` settles.
    this.#tx = await Promise.race([inside, done.then(() => Promise.reject(new VitessError('INTERNAL', 'the transaction ended before it began')))]);
    this.#done = done;
  }

  async commit(): Promise<void> {
    const done = this.#finish();
    this.#end?.resolve();
    await done;
  }

  async rollback(): Promise<void> {
    const done = this.#finish();
    this.#end?.reject(ROLLBACK);
    await done.catch((e: unknown) => {
      if (e !== ROLLBACK) throw e;
    });
  }

  #finish(): Promise<void> {
    const done = this.#done;
    if (!done) throw new VitessError('INVALID', 'no transaction is open on this connection');
    this.#tx = undefined;
    this.#done = undefined;
    return done;
  }
}

class VitessDriver implements Driver {
  constructor(private readonly client: VitessClient) {}

  async init(): Promise<void> {}

  /** A connection per acquisition: statements outside transactions run concurrently on the client. */
  async acquireConnection(): Promise<DatabaseConnection> {
    return new VitessConnection(this.client);
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    if (settings.isolationLevel || settings.accessMode) {
      throw new VitessError(
        'UNSUPPORTED',
        'transaction settings (isolation level, access mode) are not supported: while a transaction is open on a shard nobody else writes there (docs/transactions.md)',
      );
    }
    await (connection as VitessConnection).begin();
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await (connection as VitessConnection).commit();
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await (connection as VitessConnection).rollback();
  }

  async releaseConnection(): Promise<void> {}

  /** The client is the caller's: `client.disconnect()` closes it. */
  async destroy(): Promise<void> {}
}

/** `new Kysely<DB>({ dialect: new VitessDialect({ client }) })`. */
export class VitessDialect implements Dialect {
  constructor(private readonly config: VitessDialectConfig) {
    if (!config?.client) throw new VitessError('INVALID', 'VitessDialect needs { client: createClient({ … }) }');
  }

  createDriver(): Driver {
    return new VitessDriver(this.config.client);
  }

  createQueryCompiler(): QueryCompiler {
    return new PostgresQueryCompiler();
  }

  createAdapter(): DialectAdapter {
    return new PostgresAdapter();
  }

  createIntrospector(db: Kysely<unknown>): DatabaseIntrospector {
    return new PostgresIntrospector(db);
  }
}
