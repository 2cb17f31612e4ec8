/**
 * Yjs columns (docs/yjs.md): a `bytea` column holding a Y.Doc's state, written by merging Yjs
 * updates into it instead of replacing it. A merge gives the same document whatever order the
 * updates arrive in, and applying one twice changes nothing, so concurrent writers converge and a
 * retried write is harmless. Pure: VTGate merges with it now; replicas and clients can too.
 */
import * as Y from 'yjs';
import { VitessError } from './errors.js';

/** Past this size a merged state is re-encoded from a document (Yjs drops deleted content it no longer needs). */
export const YJS_COMPACT_BYTES = 64 * 1024;

/** `update` as a Yjs update (v1 encoding, as `Y.encodeStateAsUpdate` writes it); INVALID naming `what` otherwise. */
export function yjsUpdate(update: unknown, what: string): Uint8Array {
  if (!(update instanceof Uint8Array) || update.byteLength === 0) throw new VitessError('INVALID', `${what}: a Yjs update is non-empty bytes (a Uint8Array)`);
  try {
    Y.decodeUpdate(update);
  } catch {
    throw new VitessError('INVALID', `${what}: not a Yjs update (decoding it failed)`);
  }
  return update;
}

/** A Yjs column's stored value: null (no state yet) or its state; INVALID when it holds anything else. */
export function yjsState(value: unknown, what: string): Uint8Array | null {
  if (value === null || value === undefined) return null;
  if (!(value instanceof Uint8Array)) throw new VitessError('INVALID', `${what} is not bytea: a Yjs column holds bytes`);
  return yjsUpdate(value, `${what} holds no Yjs state`);
}

/** The state after `update`: `state` (null: none yet) and the update merged, compacted past YJS_COMPACT_BYTES. */
export function mergeYjs(state: Uint8Array | null, update: Uint8Array): Uint8Array {
  const merged = state ? Y.mergeUpdates([state, update]) : update;
  if (merged.byteLength <= YJS_COMPACT_BYTES) return merged;
  const doc = new Y.Doc();
  try {
    Y.applyUpdate(doc, merged);
    return Y.encodeStateAsUpdate(doc);
  } finally {
    doc.destroy();
  }
}
