// `@dotdo/vitess/sqlite`: the SQLite engines and the Postgres→SQLite dialect.
export { DoSqliteEngine } from './do-sqlite.js';
export { LibsqlEngine } from './libsql.js';
export { toSqlite, type Catalog, type CatalogColumn, type SqliteStatement } from './dialect/sqlite.js';
export type { BatchOptions, EngineKind, Executor, StorageEngine } from './engine.js';
