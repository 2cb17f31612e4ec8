/**
 * The proxy's protocol messages (client/proxy/pg-messages.ts) against node-postgres's own
 * implementation of the protocol (pg-protocol): what its serializer writes decodes to the same
 * message here, and what is encoded here its parser reads back.
 */
import { Readable } from 'node:stream';
import { parse, serialize } from 'pg-protocol';
import { describe, expect, it } from 'vitest';
import {
  bindComplete,
  commandComplete,
  dataRow,
  decodeFrontend,
  errorResponse,
  formatAt,
  MAX_MESSAGE_BYTES,
  MessageFramer,
  noticeResponse,
  parameterDescription,
  portalSuspended,
  readyForQuery,
  rowDescription,
} from '../../client/proxy/pg-messages.js';

/** Backend messages as pg-protocol's parser reads them. */
async function read(...buffers: Buffer[]): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  // An error's message is Error.message, not an own enumerable field.
  await parse(Readable.from([Buffer.concat(buffers)]), (m) => out.push({ ...m, ...('message' in m && { message: m.message }) } as Record<string, unknown>));
  return out;
}

describe('frontend messages', () => {
  it('decodes Query, Parse, Bind, Describe, Execute, Close, Sync, Flush and Terminate as pg-protocol writes them', () => {
    expect(decodeFrontend(serialize.query('SELECT 1; SELECT 2'))).toEqual({ type: 'query', sql: 'SELECT 1; SELECT 2' });
    expect(decodeFrontend(serialize.parse({ name: 's1', text: 'SELECT $1::int', types: [23] }))).toEqual({
      type: 'parse',
      name: 's1',
      sql: 'SELECT $1::int',
      paramTypes: [23],
    });
    expect(decodeFrontend(serialize.bind({ portal: 'p', statement: 's1', values: ['é', null, Buffer.from([1, 2])], binary: true }))).toEqual({
      type: 'bind',
      portal: 'p',
      statement: 's1',
      paramFormats: [0, 0, 1],
      params: [Buffer.from('é'), null, Buffer.from([1, 2])],
      resultFormats: [1],
    });
    expect(decodeFrontend(serialize.describe({ type: 'S', name: 's1' }))).toEqual({ type: 'describe', target: 'statement', name: 's1' });
    expect(decodeFrontend(serialize.describe({ type: 'P', name: '' }))).toEqual({ type: 'describe', target: 'portal', name: '' });
    expect(decodeFrontend(serialize.execute({ portal: 'p', rows: 10 }))).toEqual({ type: 'execute', portal: 'p', maxRows: 10 });
    expect(decodeFrontend(serialize.close({ type: 'P', name: 'p' }))).toEqual({ type: 'close', target: 'portal', name: 'p' });
    expect(decodeFrontend(serialize.sync())).toEqual({ type: 'sync' });
    expect(decodeFrontend(serialize.flush())).toEqual({ type: 'flush' });
    expect(decodeFrontend(serialize.end())).toEqual({ type: 'terminate' });
    expect(decodeFrontend(serialize.copyDone())).toEqual({ type: 'other', code: 'c' });
  });

  it('frames a byte stream into whole messages however it is cut', () => {
    const messages = [
      serialize.parse({ text: 'SELECT $1' }),
      serialize.bind({ values: ['x'] }),
      serialize.describe({ type: 'P' }),
      serialize.execute(),
      serialize.sync(),
    ];
    const stream = Buffer.concat(messages);
    for (const cut of [1, 3, 7, stream.length]) {
      const framer = new MessageFramer();
      const got: Buffer[] = [];
      for (let at = 0; at < stream.length; at += cut) got.push(...framer.push(stream.subarray(at, at + cut)));
      expect(got.map((b) => b.toString('hex'))).toEqual(messages.map((b) => b.toString('hex')));
    }
  });

  it('refuses a message whose length is impossible', () => {
    expect(() => new MessageFramer().push(Buffer.from([0x51, 0, 0, 0, 2]))).toThrow(/malformed message: length 2/);
    // A length over the limit is refused before anything is buffered.
    const huge = Buffer.alloc(5);
    huge[0] = 0x51;
    huge.writeInt32BE(MAX_MESSAGE_BYTES + 1, 1);
    expect(() => new MessageFramer().push(huge)).toThrow(/over the proxy's limit of 16777216 bytes/);
  });

  it('applies Bind format codes: none is text, one is for all, else one each', () => {
    expect([formatAt([], 3), formatAt([1], 3), formatAt([0, 1], 1)]).toEqual([0, 1, 1]);
  });
});

describe('backend messages', () => {
  it('encodes what pg-protocol parses back', async () => {
    const msgs = await read(
      rowDescription([
        { name: 'id', oid: 20, size: 8, format: 0 },
        { name: 'név', oid: 25, size: -1, format: 1 },
      ]),
      dataRow([Buffer.from('42'), null]),
      commandComplete('SELECT 1'),
      parameterDescription([23, 25]),
      bindComplete(),
      portalSuspended(),
      readyForQuery('E'),
    );
    expect(msgs.map((m) => m.name)).toEqual([
      'rowDescription',
      'dataRow',
      'commandComplete',
      'parameterDescription',
      'bindComplete',
      'portalSuspended',
      'readyForQuery',
    ]);
    const fields = (msgs[0]!.fields as { name: string; dataTypeID: number; dataTypeSize: number; format: string }[]).map((f) => [
      f.name,
      f.dataTypeID,
      f.dataTypeSize,
      f.format,
    ]);
    expect(fields).toEqual([
      ['id', 20, 8, 'text'],
      ['név', 25, -1, 'binary'],
    ]);
    expect(msgs[1]!.fields).toEqual(['42', null]);
    expect(msgs[2]!.text).toBe('SELECT 1');
    expect(msgs[3]!.dataTypeIDs).toEqual([23, 25]);
    expect(msgs[6]!.status).toBe('E');
  });

  it('encodes errors and notices with their SQLSTATE and the fields that name what failed', async () => {
    const [err, notice] = await read(
      errorResponse({ severity: 'ERROR', code: '23505', message: 'duplicate key', table: 't', column: 'c', constraint: 't_pkey', position: 7 }),
      noticeResponse({ severity: 'WARNING', code: '25P01', message: 'there is no transaction in progress' }),
    );
    expect(err).toMatchObject({
      name: 'error',
      severity: 'ERROR',
      code: '23505',
      message: 'duplicate key',
      table: 't',
      column: 'c',
      constraint: 't_pkey',
      position: '7',
    });
    expect(notice).toMatchObject({ name: 'notice', severity: 'WARNING', code: '25P01', message: 'there is no transaction in progress' });
  });
});
