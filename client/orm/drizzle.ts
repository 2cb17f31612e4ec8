/**
 * `@dotdo/vitess/drizzle`: Drizzle ORM over a Vitess.do client, on Drizzle's `pg-proxy` driver.
 * Every statement of one database object goes through one client, so its bookmark carries
 * read-your-writes from statement to statement; `db.transaction` runs on `client.transaction`
 * (one WebSocket session, two-phase commit across shards). Values reach Drizzle's column
 * mappers as its node-postgres driver hands them over (values.ts, docs/orm.md).
 */
import {
  createTableRelationsHelpers,
  DefaultLogger,
  extractTablesRelationalConfig,
  is,
  SQL,
  sql,
  type RelationalSchemaConfig,
  type TablesRelationalConfig,
} from 'drizzle-orm';
import { Column } from 'drizzle-orm/column';
import { PgDialect, type PgTransactionConfig } from 'drizzle-orm/pg-core';
import { PgRemoteDatabase, type RemoteCallback } from 'drizzle-orm/pg-proxy';
import { PgProxyTransaction, PgRemoteSession, type PgRemoteSessionOptions } from 'drizzle-orm/pg-proxy/session';
import type { SelectedFieldsOrdered } from 'drizzle-orm/pg-core/query-builders/select.types';
import type { DrizzleConfig } from 'drizzle-orm/utils';
import { VitessError } from '../../rpc/errors.js';
import type { VitessClient } from '../client.js';
import type { Transaction } from '../transaction.js';
import { checkDistinctNames, pgRow, pgRowArray, sqlParam } from './values.js';

export type VitessDrizzleDatabase<TSchema extends Record<string, unknown> = Record<string, never>> = PgRemoteDatabase<TSchema>;

/** Where statements go: the client, or the transaction `db.transaction` opened on it. */
type Target = Pick<VitessClient, 'execute' | 'transaction'> | Transaction;

const nestedRefused = () => new VitessError('UNSUPPORTED', 'nested transactions (savepoints) are not supported: run the statements in the outer transaction');

/** pg-proxy's callback: `all` wants rows as arrays in select-list order, `execute` as objects. */
function remoteCallback(target: Target): RemoteCallback {
  return async (text, params, method) => {
    const r = await target.execute(text, params.map(sqlParam));
    const fields = r.fields ?? [];
    const rows = r.rows ?? [];
    if (method === 'all') {
      checkDistinctNames(fields);
      return { rows: rows.map((row) => pgRowArray(row, fields, 'text')) };
    }
    return { rows: rows.map((row) => pgRow(row, fields, 'text')) };
  };
}

class VitessDrizzleSession<TFullSchema extends Record<string, unknown>, TSchema extends TablesRelationalConfig> extends PgRemoteSession<TFullSchema, TSchema> {
  constructor(
    private readonly target: Target,
    private readonly pgDialect: PgDialect,
    private readonly relational: RelationalSchemaConfig<TSchema> | undefined,
    private readonly sessionOptions: PgRemoteSessionOptions,
  ) {
    super(remoteCallback(target), pgDialect, relational, sessionOptions);
  }

  /** `db.transaction(fn)`: `client.transaction`, which commits when `fn` resolves and rolls back when it throws (`tx.rollback()` too). */
  override async transaction<T>(fn: (tx: PgProxyTransaction<TFullSchema, TSchema>) => Promise<T>, config?: PgTransactionConfig): Promise<T> {
    if (config && (config.isolationLevel || config.accessMode || config.deferrable !== undefined)) {
      throw new VitessError(
        'UNSUPPORTED',
        'db.transaction options (isolationLevel, accessMode, deferrable) are not supported: while a transaction is open on a shard nobody else writes there (docs/transactions.md)',
      );
    }
    if (!('transaction' in this.target)) throw nestedRefused();
    return this.target.transaction((tx) => {
      const session = new VitessDrizzleSession<TFullSchema, TSchema>(tx, this.pgDialect, this.relational, this.sessionOptions);
      return fn(new VitessDrizzleTransaction<TFullSchema, TSchema>(this.pgDialect, session, this.relational));
    });
  }
}

class VitessDrizzleTransaction<TFullSchema extends Record<string, unknown>, TSchema extends TablesRelationalConfig> extends PgProxyTransaction<
  TFullSchema,
  TSchema
> {
  override async transaction<T>(_fn: (tx: PgProxyTransaction<TFullSchema, TSchema>) => Promise<T>): Promise<T> {
    throw nestedRefused();
  }
}

interface SelectionBuilder {
  buildSelection(fields: SelectedFieldsOrdered, opts?: { isSingleTable?: boolean }): SQL;
  casing: { getColumnCasing(column: Column): string };
}

/**
 * Rows travel keyed by column name, so a select list must name each column once. Drizzle leaves
 * two kinds of items unaliased: a column whose name another item has too (`users.id`,
 * `orders.id` in a join), and raw SQL (`count()` and `countDistinct()` are both `count`). Those
 * get an alias; Drizzle maps results by position, and no outer query can refer to either by
 * name (Postgres would call the first ambiguous; Drizzle refuses the second), so the SQL means
 * what it did.
 */
function aliasAmbiguousItems(dialect: PgDialect): void {
  const d = dialect as unknown as SelectionBuilder;
  const build = d.buildSelection.bind(dialect);
  d.buildSelection = (fields, opts) => {
    const names = fields.map(({ field }) => {
      if (is(field, SQL.Aliased)) return field.fieldAlias;
      if (is(field, Column)) return d.casing.getColumnCasing(field);
      return is(field, SQL) ? undefined : '';
    });
    const seen = new Set<string>();
    const aliases = names.map((name, i) => {
      if (name === '') return undefined; // a subquery: named by its own alias
      if (name !== undefined && !seen.has(name)) {
        seen.add(name);
        return undefined;
      }
      return `${name ?? 'expr'}__${i}`;
    });
    if (aliases.every((a) => a === undefined)) return build(fields, opts);
    const items = fields.map((f, i) => {
      const one = build([f], opts);
      const alias = aliases[i];
      return alias === undefined ? one : sql`${one} as ${sql.identifier(alias)}`;
    });
    return sql.join(items, sql`, `);
  };
}

/**
 * A Drizzle database on `client` (Postgres SQL: use Drizzle's `pg-core` tables on either
 * engine). Pass `{ schema }` for relational queries, as with any Drizzle driver.
 */
export function drizzle<TSchema extends Record<string, unknown> = Record<string, never>>(
  client: VitessClient,
  config: DrizzleConfig<TSchema> = {},
): VitessDrizzleDatabase<TSchema> {
  const dialect = new PgDialect({ casing: config.casing });
  aliasAmbiguousItems(dialect);
  const logger = config.logger === true ? new DefaultLogger() : config.logger === false ? undefined : config.logger;
  let schema: RelationalSchemaConfig<TablesRelationalConfig> | undefined;
  if (config.schema) {
    const tables = extractTablesRelationalConfig(config.schema, createTableRelationsHelpers);
    schema = { fullSchema: config.schema, schema: tables.tables, tableNamesMap: tables.tableNamesMap };
  }
  const session = new VitessDrizzleSession(client, dialect, schema, { ...(logger && { logger }), ...(config.cache && { cache: config.cache }) });
  const db = new PgRemoteDatabase(dialect, session, schema as RelationalSchemaConfig<never> | undefined) as VitessDrizzleDatabase<TSchema>;
  if (config.cache) {
    db.$cache = config.cache as unknown as typeof db.$cache;
    db.$cache.invalidate = config.cache.onMutate;
  }
  return db;
}
