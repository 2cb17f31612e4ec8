// @dotdo/vitess-rpc: the `./rpc` entry of @dotdo/vitess under its own name (packages/vitess-rpc/README.md).
export * from '@dotdo/vitess/rpc';
