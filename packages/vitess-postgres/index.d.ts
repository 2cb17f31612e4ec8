// @dotdo/vitess-postgres: the `./postgres` entry of @dotdo/vitess under its own name, and its
// engine class also as PGliteAdapter (packages/vitess-postgres/README.md).
export * from '@dotdo/vitess/postgres';
export { PgliteEngine as PGliteAdapter } from '@dotdo/vitess/postgres';
