// Read-your-writes under concurrency: the client's bookmark only ever moves forward, shard by
// shard, however the answers of its calls interleave; a transaction starts from it, and neither a
// commit nor a rollback (nor a reconnect) drops a shard from it. A fake VTGate in this process
// (capnweb behind msw, over HTTP batch and WebSocket) answers each call as a real one does: with
// the bookmark the call brought, merged with the positions the test scripts for it.
import { newHttpBatchRpcResponse, newWebSocketRpcSession, RpcTarget } from 'capnweb';
import fc from 'fast-check';
import { http, ws } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createClient, type VitessClient } from '../../client/client.js';
import { decodeBookmark, encodeBookmark, mergePositions, type Positions } from '../../rpc/bookmark.js';
import type { ReadOptions, RpcResult } from '../../rpc/protocol.js';
import { fromRpc, type RpcValue } from '../../rpc/values.js';

const ENDPOINT = 'http://gateway.test';
const A = 'main/-80';
const B = 'main/80-';

/** The bookmark after a call that brought `bookmark` and reached shards at `at`. */
const after = (bookmark: string | undefined, at: Positions): string => encodeBookmark(mergePositions(decodeBookmark(bookmark), at));

const result = (bookmark: string): RpcResult => ({
  rows: [],
  fields: [],
  rowCount: 0,
  affected: 0,
  bookmark,
  plan: 'single-shard',
  servedBy: { shard: '-80', role: 'primary', region: 'local' },
});

/** Query `i` (its first parameter) reaches shards at `at` and is answered once `answered` resolves. */
interface Scripted {
  at: Positions;
  answered: Promise<void>;
}

class FakeTransaction extends RpcTarget {
  constructor(
    private readonly gw: FakeGateway,
    private readonly start: string | undefined,
  ) {
    super();
  }

  // Statements in a transaction report the session's bookmark (a fresh session's is empty).
  query(): RpcResult {
    return result(after(this.start, {}));
  }

  commit(): { bookmark: string } {
    return { bookmark: after(this.start, this.gw.commitAt) };
  }

  rollback(): void {}
}

class FakeKeyspace extends RpcTarget {
  constructor(private readonly gw: FakeGateway) {
    super();
  }

  async query(_sql: string, params: RpcValue[], opts: ReadOptions = {}): Promise<RpcResult> {
    const s = this.gw.script.get(fromRpc(params[0]!) as number)!;
    await s.answered;
    return result(after(opts.bookmark, s.at));
  }

  begin(opts: { bookmark?: string } = {}): FakeTransaction {
    this.gw.begins.push(opts.bookmark);
    return new FakeTransaction(this.gw, opts.bookmark);
  }
}

class FakeGateway extends RpcTarget {
  readonly script = new Map<number, Scripted>();
  /** The bookmark each `begin` brought. */
  readonly begins: (string | undefined)[] = [];
  /** Where a commit leaves the shards it wrote. */
  commitAt: Positions = {};

  keyspace(): FakeKeyspace {
    return new FakeKeyspace(this);
  }
}

let gw: FakeGateway;
/** The gateway's end of every WebSocket opened, oldest first. */
let sockets: { close(): void }[];
const link = ws.link(`${ENDPOINT.replace('http', 'ws')}/rpc`);
const mock = setupServer(
  http.post(`${ENDPOINT}/rpc`, ({ request }) => newHttpBatchRpcResponse(request as unknown as Request, gw)),
  link.addEventListener('connection', ({ client }) => {
    sockets.push(client);
    newWebSocketRpcSession(client as unknown as WebSocket, gw);
  }),
);

beforeAll(() => mock.listen({ onUnhandledFrame: 'error' }));
afterAll(() => mock.close());
beforeEach(() => {
  gw = new FakeGateway();
  sockets = [];
});

const open: VitessClient[] = [];
afterAll(() => Promise.all(open.map((c) => c.disconnect())));

function client(): VitessClient {
  const c = createClient({ endpoint: ENDPOINT, retry: { attempts: 3, baseMs: 1, maxMs: 5 } });
  open.push(c);
  return c;
}

/** Scripts query `i`, answered at once. */
const at = (i: number, positions: Positions): void => void gw.script.set(i, { at: positions, answered: Promise.resolve() });

const positions = (c: VitessClient): Positions => decodeBookmark(c.bookmark);

/** Whether `b` is at or past `a` on every shard of `a`. */
const covers = (b: Positions, a: Positions): boolean => Object.entries(a).every(([k, v]) => (b[k] ?? 0) >= v);

describe('the client bookmark', () => {
  it('never moves back a shard, whatever order concurrent answers arrive in (HTTP batch)', async () => {
    const lsn = fc.integer({ min: 1, max: 1_000 });
    const calls = fc.array(fc.record({ [A]: lsn, [B]: lsn }, { requiredKeys: [] }), { minLength: 2, maxLength: 6 }).chain((ps) =>
      fc.tuple(
        fc.constant(ps),
        fc.shuffledSubarray(
          ps.map((_, i) => i),
          { minLength: ps.length, maxLength: ps.length },
        ),
      ),
    );
    await fc.assert(
      fc.asyncProperty(calls, async ([ps, order]) => {
        gw = new FakeGateway();
        const release = ps.map((p, i) => {
          let answer!: () => void;
          gw.script.set(i, {
            at: p,
            answered: new Promise<void>((r) => {
              answer = r;
            }),
          });
          return answer;
        });
        const c = client();
        const pending = ps.map((_, i) => c.query('SELECT $1', [i]));
        let seen: Positions = {};
        try {
          for (const i of order) {
            release[i]!();
            await pending[i];
            const now = positions(c);
            expect(covers(now, seen), `after answer ${i}: ${JSON.stringify(now)} is behind ${JSON.stringify(seen)}`).toBe(true);
            expect(covers(now, ps[i]!)).toBe(true);
            seen = now;
          }
        } finally {
          for (const r of release) r(); // a failed run leaves no call behind
          await Promise.allSettled(pending);
        }
        expect(seen).toEqual(ps.reduce(mergePositions, {}));
      }),
      { numRuns: 40 },
    );
  });

  it('starts a transaction from it, and a commit moves it forward without dropping a shard', async () => {
    const c = client();
    await c.connect();
    at(0, { [A]: 5, [B]: 7 });
    await c.query('SELECT $1', [0]);
    gw.commitAt = { [A]: 9 };
    await c.transaction(async (tx) => {
      await tx.execute('UPDATE t SET v = 1 WHERE id = 1');
    });
    expect(gw.begins.map((b) => decodeBookmark(b))).toEqual([{ [A]: 5, [B]: 7 }]);
    expect(positions(c)).toEqual({ [A]: 9, [B]: 7 });
  });

  it('is not lowered by a rolled-back transaction (on a socket of its own)', async () => {
    const c = client();
    at(0, { [A]: 5, [B]: 7 });
    await c.query('SELECT $1', [0]);
    await expect(
      c.transaction(async (tx) => {
        await tx.execute('UPDATE t SET v = 1 WHERE id = 1');
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    expect(positions(c)).toEqual({ [A]: 5, [B]: 7 });
  });

  it('is kept across a WebSocket reconnect, and the next transaction starts from it', async () => {
    const c = client();
    await c.connect();
    at(0, { [A]: 5, [B]: 7 });
    await c.query('SELECT $1', [0]);
    sockets[0]!.close(); // the gateway drops the connection
    at(1, { [B]: 8 });
    await c.query('SELECT $1', [1]);
    expect(c.reconnects).toBe(1);
    gw.commitAt = { [A]: 9 };
    await c.transaction(async (tx) => {
      await tx.execute('UPDATE t SET v = 1 WHERE id = 1');
    });
    expect(gw.begins.map((b) => decodeBookmark(b))).toEqual([{ [A]: 5, [B]: 8 }]);
    expect(positions(c)).toEqual({ [A]: 9, [B]: 8 });
  });
});
