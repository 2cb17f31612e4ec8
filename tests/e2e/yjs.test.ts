// Yjs columns through VTGate (docs/yjs.md), on both keyspaces under `wrangler dev`: three writers
// edit one text at once and merge their updates with `applyUpdate` in whatever order they land;
// the row then holds every edit, the same text as all the updates merged locally. A bad update,
// a missing row, a key naming several rows and a column that is not bytea are refused, named,
// with nothing changed.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import * as Y from 'yjs';
import { createClient, type VitessClient } from '../../client/index.js';
import { createReplica, type EmbeddedReplica } from '../../replica/index.js';
import { startWrangler, type WranglerDev } from '../../scripts/wrangler-dev.mjs';
import { failure } from '../support/errors.js';

let w: WranglerDev;
const open: VitessClient[] = [];
const replicas: EmbeddedReplica[] = [];

beforeAll(async () => {
  w = await startWrangler();
});

afterAll(async () => {
  await Promise.all(replicas.map((r) => r.close()));
  await Promise.all(open.map((c) => c.disconnect()));
  await w?.stop();
});

function client(keyspace: string): VitessClient {
  const c = createClient({ endpoint: w.url, keyspace, retry: { attempts: 3, baseMs: 20, maxMs: 200 } });
  open.push(c);
  return c;
}

const textOf = (state: unknown): string => {
  const doc = new Y.Doc();
  if (state) Y.applyUpdate(doc, state as Uint8Array);
  return doc.getText('body').toString();
};

describe.each(['main', 'pg'])('keyspace %s', (keyspace) => {
  let c: VitessClient;
  beforeAll(async () => {
    c = client(keyspace);
    await c.execute('CREATE TABLE notes (id BIGINT PRIMARY KEY, title TEXT, body BYTEA)');
    await c.execute("INSERT INTO notes (id, title) VALUES (1, 'shared'), (2, 'other')");
  });

  it('concurrent edits from three writers, merged in any order, leave every edit in the row', async () => {
    const writers = [client(keyspace), client(keyspace), client(keyspace)];
    const docs = writers.map(() => new Y.Doc());
    const sent: Uint8Array[] = [];
    // Each writer edits its own document, unaware of the others, then sends its updates one by one, all at once.
    const rounds = await Promise.all(
      docs.map(async (doc, i) => {
        const updates: Uint8Array[] = [];
        doc.on('update', (u: Uint8Array) => updates.push(u));
        const t = doc.getText('body');
        t.insert(0, `writer ${i} was here. `);
        t.insert(t.length, `and again ${i}. `);
        t.delete(0, 1);
        sent.push(...updates);
        for (const u of updates) expect((await writers[i]!.applyUpdate('notes', { id: 1 }, 'body', u)).affected).toBe(1);
      }),
    );
    expect(rounds).toHaveLength(3);
    const merged = new Y.Doc();
    for (const u of sent) Y.applyUpdate(merged, u);
    const expected = merged.getText('body').toString();
    for (let i = 0; i < 3; i++) expect(expected).toContain(`and again ${i}. `);

    const [row] = (await c.query('SELECT id, title, body FROM notes WHERE id = 1')).rows;
    expect(row!.title).toBe('shared');
    expect(textOf(row!.body)).toBe(expected);
    // Sent again (a retry): nothing changes.
    await c.applyUpdate('notes', { id: 1 }, 'body', sent[0]!);
    expect(textOf((await c.query('SELECT body FROM notes WHERE id = 1')).rows[0]!.body)).toBe(expected);
    // The other row is untouched.
    expect((await c.query('SELECT body FROM notes WHERE id = 2')).rows).toEqual([{ body: null }]);
  });

  it('a writer reads its own merge back through its bookmark', async () => {
    const doc = new Y.Doc();
    doc.getText('body').insert(0, 'fresh');
    const r = await c.applyUpdate('notes', { id: 2 }, 'body', Y.encodeStateAsUpdate(doc));
    expect(r.bookmark).toBe(c.bookmark);
    expect(textOf((await c.query('SELECT body FROM notes WHERE id = 2', [], { consistency: 'session' })).rows[0]!.body)).toBe('fresh');
  });

  it('refuses a bad update, a missing row, a key of several rows and a column that is not bytea, changing nothing', async () => {
    const before = (await c.query('SELECT id, title, body FROM notes ORDER BY id')).rows;
    const good = Y.encodeStateAsUpdate(new Y.Doc());
    expect(await failure(c.applyUpdate('notes', { id: 1 }, 'body', new Uint8Array([0xff, 0xff, 0xff, 0xff, 1])))).toMatchObject({
      code: 'INVALID',
      message: expect.stringContaining('column "body" of table "notes": not a Yjs update'),
    });
    expect(await failure(c.applyUpdate('notes', { id: 99 }, 'body', good))).toMatchObject({
      code: 'NOT_FOUND',
      message: expect.stringContaining('no row of table "notes" where id = 99'),
    });
    await c.execute("UPDATE notes SET title = 'same'");
    expect(await failure(c.applyUpdate('notes', { title: 'same' }, 'body', good))).toMatchObject({
      code: 'INVALID',
      message: expect.stringContaining('2 rows of table "notes"'),
    });
    await c.execute("UPDATE notes SET title = CASE id WHEN 1 THEN 'shared' ELSE 'other' END");
    expect(await failure(c.applyUpdate('notes', { id: 1 }, 'title', good))).toMatchObject({
      code: 'INVALID',
      message: expect.stringContaining('is not bytea'),
    });
    expect(await failure(c.applyUpdate('nope', { id: 1 }, 'body', good))).toMatchObject({ code: 'NOT_FOUND' });
    expect((await c.query('SELECT id, title, body FROM notes ORDER BY id')).rows).toEqual(before);
  });
});

describe('embedded replicas: doc() binds a live Y.Doc to a row', () => {
  it('two replicas edit one text, one of them offline for a while: both docs, the row and a fresh replica end with every edit', async () => {
    const c = client('main');
    await c.execute('CREATE TABLE pad (id BIGINT PRIMARY KEY, body BYTEA)');
    await c.execute('INSERT INTO pad (id) VALUES (1)');
    // Replica B's network can be cut: its requests then fail as a dropped connection would.
    let offline = false;
    const cuttable = (input: string | URL | Request, init?: RequestInit) =>
      offline ? Promise.reject(new TypeError('fetch failed (offline)')) : fetch(input, init);
    const open = async (f?: typeof fetch) => {
      const r = await createReplica({
        endpoint: w.url,
        keyspace: 'main',
        engine: 'libsql',
        tables: ['pad'],
        waitMs: 500,
        client: { retry: { attempts: 2, baseMs: 10, maxMs: 50 }, ...(f && { fetch: f }) },
      });
      replicas.push(r);
      return r;
    };
    const [a, b] = [await open(), await open(cuttable as typeof fetch)];
    const [docA, docB] = [a.doc('pad', { id: 1 }, 'body'), b.doc('pad', { id: 1 }, 'body')];
    const text = (d: Y.Doc) => d.getText('body').toString();

    docA.getText('body').insert(0, 'alpha ');
    await vi.waitFor(() => expect(text(docB)).toBe('alpha '), { timeout: 10_000, interval: 50 });

    offline = true;
    docB.getText('body').insert(text(docB).length, 'beta-offline ');
    docA.getText('body').insert(0, 'gamma ');
    // B's edit cannot leave; A's reaches the row (B cannot see it yet).
    await vi.waitFor(async () => expect(textOf((await c.query('SELECT body FROM pad WHERE id = 1')).rows[0]!.body)).toContain('gamma '), {
      timeout: 10_000,
      interval: 50,
    });
    expect(textOf((await c.query('SELECT body FROM pad WHERE id = 1')).rows[0]!.body)).not.toContain('beta-offline');
    offline = false;

    const all = ['alpha ', 'gamma ', 'beta-offline '];
    for (const d of [docA, docB]) await vi.waitFor(() => expect(all.every((s) => text(d).includes(s))).toBe(true), { timeout: 15_000, interval: 50 });
    expect(text(docA)).toBe(text(docB));
    const row = textOf((await c.query('SELECT body FROM pad WHERE id = 1')).rows[0]!.body);
    expect(row).toBe(text(docA));
    const fresh = await open();
    expect(textOf((await fresh.query('SELECT body FROM pad WHERE id = 1')).rows[0]!.body)).toBe(row);
    docA.destroy();
    docB.destroy();
  });
});
