// Yjs columns' merge (rpc/yjs-state.ts): updates merged into a state in any order, any number of
// times, give the same document; garbage is refused by name; a large state is compacted without
// losing content.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { VitessError } from '../../rpc/errors.js';
import { mergeYjs, YJS_COMPACT_BYTES, yjsUpdate } from '../../rpc/yjs-state.js';

const text = (state: Uint8Array | null): string => {
  const doc = new Y.Doc();
  if (state) Y.applyUpdate(doc, state);
  return doc.getText('t').toString();
};

/** Edits by several writers, each on its own doc from a shared start: their updates, and the text all merged. */
function concurrentEdits(edits: { writer: number; at: number; insert: string }[], writers: number) {
  const start = new Y.Doc();
  start.getText('t').insert(0, 'start');
  const base = Y.encodeStateAsUpdate(start);
  const docs = Array.from({ length: writers }, () => {
    const d = new Y.Doc();
    Y.applyUpdate(d, base);
    return d;
  });
  const updates: Uint8Array[] = [base];
  for (const d of docs) d.on('update', (u: Uint8Array) => updates.push(u));
  for (const e of edits) {
    const t = docs[e.writer % writers]!.getText('t');
    t.insert(e.at % (t.length + 1), e.insert);
  }
  const all = new Y.Doc();
  for (const u of updates) Y.applyUpdate(all, u);
  return { updates, expected: all.getText('t').toString() };
}

const edit = fc.record({ writer: fc.nat(), at: fc.nat(), insert: fc.string({ minLength: 1, maxLength: 8 }) });

describe('Yjs column merge', () => {
  it('converges whatever the order of the updates, and merging one twice changes nothing', () => {
    fc.assert(
      fc.property(fc.array(edit, { minLength: 1, maxLength: 30 }), fc.integer({ min: 1, max: 4 }), fc.func(fc.integer()), (edits, writers, order) => {
        const { updates, expected } = concurrentEdits(edits, writers);
        const shuffled = updates
          .map((u, i) => ({ u, k: order(i) }))
          .sort((a, b) => a.k - b.k)
          .map(({ u }) => u);
        let state: Uint8Array | null = null;
        for (const u of shuffled) state = mergeYjs(state, u);
        expect(text(state)).toBe(expected);
        for (const u of updates) expect(text(mergeYjs(state, u))).toBe(expected);
      }),
    );
  });

  it('compacts a state past the bound, content kept', () => {
    const doc = new Y.Doc();
    let state: Uint8Array | null = null;
    doc.on('update', (u: Uint8Array) => {
      state = mergeYjs(state, u);
    });
    const t = doc.getText('t');
    for (let i = 0; i < 3_000; i++) {
      t.insert(t.length, `line ${i} ${'x'.repeat(40)}\n`);
      if (i % 3 === 0) t.delete(0, 10);
    }
    expect(text(state)).toBe(t.toString());
    expect(state!.byteLength).toBeLessThanOrEqual(Math.max(YJS_COMPACT_BYTES, Y.encodeStateAsUpdate(doc).byteLength));
  });

  it('refuses what is not a Yjs update, naming the column', () => {
    for (const bad of [new Uint8Array(0), new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x01]), 'text' as unknown]) {
      const e = (() => {
        try {
          yjsUpdate(bad, 'column "body" of table "notes"');
        } catch (x) {
          return x;
        }
      })();
      expect(e).toBeInstanceOf(VitessError);
      expect(e).toMatchObject({ code: 'INVALID', message: expect.stringContaining('column "body" of table "notes"') });
    }
    const ok = Y.encodeStateAsUpdate(new Y.Doc());
    expect(yjsUpdate(ok, 'x')).toBe(ok);
  });
});
