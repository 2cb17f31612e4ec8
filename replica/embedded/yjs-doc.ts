/**
 * A live Y.Doc bound to a Yjs column of one row (docs/yjs.md, "Embedded replicas"): the row's
 * state, as the replica holds it, is merged into the doc now and whenever the replica applies a
 * change to the table; the doc's own edits are merged into the row on the primary. A send that
 * fails (offline, VTGate unreachable) is not lost: the edits stay in the doc, and its whole
 * state is sent again, with backoff, until a send succeeds; a merge of what the row has already
 * changes nothing, so sending the whole state is always safe. Edits made while a send is in
 * flight leave together in the next one.
 */
import * as Y from 'yjs';
import { asVitessError, type ErrorCode, type VitessError } from '../../rpc/errors.js';
import type { Row } from '../../rpc/results.js';

export interface DocBinding {
  /** Calls `cb` with the row (the state in column `state`) now and after each change the replica applies; returns a stop function. */
  watch(cb: (rows: Row[]) => void, onError: (e: unknown) => void): () => void;
  /** Merges `update` into the row on the primary. */
  send(update: Uint8Array): Promise<unknown>;
  /** How long to wait before send attempt `n` (0-based) after a failure. */
  delay(n: number): number;
  /** A send refused for what it is (a bad key, a grant), not retried until the next edit; or a failing local read. */
  onError?: (e: VitessError) => void;
}

/** Failures a later send may not meet: the network, an overloaded or moving shard. Others are reported. */
const PASSING: ReadonlySet<ErrorCode> = new Set(['UNAVAILABLE', 'TIMEOUT', 'CONFLICT']);

export function boundDoc(b: DocBinding): Y.Doc {
  const doc = new Y.Doc();
  const remote = Symbol('replica');
  let unsent = false;
  let sending = false;
  let destroyed = false;

  const flush = async (): Promise<void> => {
    if (sending) return;
    sending = true;
    try {
      for (let failures = 0; unsent && !destroyed; ) {
        unsent = false;
        try {
          await b.send(Y.encodeStateAsUpdate(doc));
          failures = 0;
        } catch (e) {
          const err = asVitessError(e);
          if (!PASSING.has(err.code)) {
            b.onError?.(err);
            return;
          }
          unsent = true;
          await new Promise((resolve) => setTimeout(resolve, b.delay(failures++)));
        }
      }
    } finally {
      sending = false;
    }
  };

  const stop = b.watch(
    (rows) => {
      const state = rows[0]?.state;
      if (state instanceof Uint8Array && state.byteLength) Y.applyUpdate(doc, state, remote);
    },
    (e) => b.onError?.(asVitessError(e)),
  );
  doc.on('update', (_update: Uint8Array, origin: unknown) => {
    if (origin === remote) return;
    unsent = true;
    void flush();
  });
  doc.on('destroy', () => {
    destroyed = true;
    stop();
  });
  return doc;
}
