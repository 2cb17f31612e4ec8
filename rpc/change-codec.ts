// Log records as JSON text (stored in DO SQLite): values in the tagged wire encoding of
// rpc/values.ts, so a record decodes to exactly the values it was made from.
import { changesFromWire, changesToWire, type Change } from './changes.js';

/**
 * The text a change list was decoded from. Capture on SQLite writes changes in this encoding
 * already, so appending them to the log stores that text instead of encoding them again (the
 * lists are not modified after decoding).
 */
const texts = new WeakMap<Change[], string>();

export function encodeChanges(changes: Change[]): string {
  return texts.get(changes) ?? JSON.stringify(changesToWire(changes));
}

export function decodeChanges(text: string): Change[] {
  const changes = changesFromWire(JSON.parse(text) as unknown[]);
  texts.set(changes, text);
  return changes;
}
