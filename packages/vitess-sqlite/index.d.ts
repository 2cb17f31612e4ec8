// @dotdo/vitess-sqlite: the `./sqlite` entry of @dotdo/vitess under its own name, and its libSQL
// (Turso's SQLite) engine class also as TursoAdapter (packages/vitess-sqlite/README.md).
export * from '@dotdo/vitess/sqlite';
export { LibsqlEngine as TursoAdapter } from '@dotdo/vitess/sqlite';
