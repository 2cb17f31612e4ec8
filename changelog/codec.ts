// Log records as JSON text (stored in DO SQLite): values in the tagged wire encoding of
// rpc/values.ts, so a record decodes to exactly the values it was made from.
import { changesFromWire, changesToWire, type Change } from '../rpc/changes.js';

export function encodeChanges(changes: Change[]): string {
  return JSON.stringify(changesToWire(changes));
}

export function decodeChanges(text: string): Change[] {
  return changesFromWire(JSON.parse(text) as unknown[]);
}
