// A plain UPDATE of a column the vschema declares a Yjs column (`"columns": { "body": "yjs" }`)
// merges instead of replacing (docs/yjs.md), on real DO SQLite shards behind a VTGate Session:
// concurrent UPDATEs converge, a multi-row UPDATE merges into each row, other assignments apply
// as written, a client transaction can hold it; a bytea column not declared is replaced as
// before; what cannot be merged is refused, named, with nothing changed.
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { ADMIN } from '../../router/access/grants.js';
import { Session } from '../../router/session.js';
import { configuredVSchema, Topology, type Env } from '../../router/topology.js';
import { asVitessError } from '../../rpc/errors.js';

const textOf = (state: unknown): string => {
  const doc = new Y.Doc();
  if (state) Y.applyUpdate(doc, state as Uint8Array);
  return doc.getText('t').toString();
};

/** An update inserting `s` at the start of a fresh document's text. */
const edit = (s: string): Uint8Array => {
  const doc = new Y.Doc();
  doc.getText('t').insert(0, s);
  return Y.encodeStateAsUpdate(doc);
};

describe('UPDATE of a declared Yjs column', () => {
  it('merges, row by row, in one transaction; other columns as before', async () => {
    const table = `yn_${crypto.randomUUID().slice(0, 8)}`;
    const vschema = structuredClone(configuredVSchema(env as unknown as Env));
    vschema.keyspaces.find((k) => k.name === 'main')!.tables[table] = { type: 'sharded', lookups: [], yjs: ['body'] };
    const topology = new Topology(vschema, env as unknown as Env);
    const session = () => new Session(topology, 'main', undefined, ADMIN);
    const s = session();
    await s.run(`CREATE TABLE ${table} (id BIGINT PRIMARY KEY, title TEXT, body BYTEA, raw BYTEA)`, []);
    await s.run(`INSERT INTO ${table} (id, title) VALUES (1, 'a'), (2, 'b'), (3, 'c')`, []);

    // Three writers at once on row 1, each with its own edit and title.
    const edits = ['one ', 'two ', 'three '];
    const results = await Promise.all(edits.map((e, i) => session().run(`UPDATE ${table} SET body = $1, title = $2 WHERE id = $3`, [edit(e), `t${i}`, 1])));
    expect(results.map((r) => r.affected)).toEqual([1, 1, 1]);
    const [row1] = (await s.run(`SELECT title, body FROM ${table} WHERE id = 1`, [])).rows;
    for (const e of edits) expect(textOf(row1!.body)).toContain(e);
    expect(['t0', 't1', 't2']).toContain(row1!.title);

    // Several rows: the update merged into each; row 3 untouched.
    const r = await s.run(`UPDATE ${table} SET body = $1 WHERE id IN (1, 2)`, [edit('both ')]);
    expect(r.affected).toBe(2);
    const rows = (await s.run(`SELECT id, body FROM ${table} ORDER BY id`, [])).rows;
    expect(textOf(rows[0]!.body)).toContain('both ');
    for (const e of edits) expect(textOf(rows[0]!.body)).toContain(e);
    expect(textOf(rows[1]!.body)).toBe('both ');
    expect(rows[2]!.body).toBeNull();

    // Inside a client transaction, rolled back: nothing of it stays.
    const tx = s.begin();
    await s.run(`UPDATE ${table} SET body = $1 WHERE id = 3`, [edit('rolled back')], tx);
    await tx.rollback();
    expect((await s.run(`SELECT body FROM ${table} WHERE id = 3`, [])).rows).toEqual([{ body: null }]);

    // A bytea column not declared is replaced, as any column.
    await s.run(`UPDATE ${table} SET raw = $1 WHERE id = 3`, [new Uint8Array([1, 2])]);
    await s.run(`UPDATE ${table} SET raw = $1 WHERE id = 3`, [new Uint8Array([3])]);
    expect((await s.run(`SELECT raw FROM ${table} WHERE id = 3`, [])).rows).toEqual([{ raw: new Uint8Array([3]) }]);

    // Refused, named, nothing changed.
    const before = (await s.run(`SELECT id, title, body FROM ${table} ORDER BY id`, [])).rows;
    const refused = async (sql: string, params: unknown[]) => asVitessError(await s.run(sql, params as never).catch((e: unknown) => e));
    expect(await refused(`UPDATE ${table} SET body = $1 WHERE id = 1`, [new Uint8Array([0xff, 0xff, 0xff, 0xff, 1])])).toMatchObject({
      code: 'INVALID',
      message: expect.stringContaining(`Yjs column "body" of table "${table}": not a Yjs update`),
    });
    expect(await refused(`UPDATE ${table} SET body = '\\x00' WHERE id = 1`, [])).toMatchObject({
      code: 'UNSUPPORTED',
      message: expect.stringContaining('set from a parameter'),
    });
    expect(await refused(`UPDATE ${table} SET body = $1 WHERE id = 1 RETURNING title`, [edit('x')])).toMatchObject({
      code: 'UNSUPPORTED',
      details: { construct: 'RETURNING' },
    });
    expect((await s.run(`SELECT id, title, body FROM ${table} ORDER BY id`, [])).rows).toEqual(before);
  });
});
