// `@dotdo/vitess`: the client SDK. The value model and typed errors are shared with the server.
export * from '../rpc/index.js';
