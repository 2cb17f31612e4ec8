export * from './values.js';
export * from './errors.js';
export * from './results.js';
export * from './changes.js';
