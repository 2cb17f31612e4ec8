export * from './values.js';
export * from './errors.js';
export * from './results.js';
export * from './changes.js';
export * from './bookmark.js';
export * from './protocol.js';
export { decodePosition, encodePosition, isPosition, type ShardCursor, type StreamPosition } from './position.js';
