/**
 * `vitess proxy`'s server: a TCP listener speaking the Postgres protocol (pg-gateway does the
 * startup, SSL refusal and MD5 password exchange), one `VitessClient` WebSocket session per
 * connection, the database name as the keyspace (docs/proxy.md).
 */
import { timingSafeEqual } from 'node:crypto';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { hashMd5Password, PostgresConnection } from 'pg-gateway';
import type { Consistency } from '../../rpc/protocol.js';
import { createClient, type VitessClient } from '../client.js';
import { toVitessError } from '../failure.js';
import { errorNotice, SQLSTATE } from './pg-errors.js';
import { errorResponse, MessageFramer, parameterStatus, readyForQuery } from './pg-messages.js';
import { PgSession } from './pg-session.js';

export interface ProxyOptions {
  /** VTGate's URL. */
  endpoint: string;
  /** The token the proxy sends to VTGate, and the password every Postgres client must give. */
  token: string;
  host: string;
  /** 0: any free port. */
  port: number;
  consistency?: Consistency;
  region?: string;
  /** What the server says about connections that fail (default: nothing). */
  log?: (line: string) => void;
}

export interface RunningProxy {
  host: string;
  port: number;
  close(): Promise<void>;
}

/** What a Postgres 16 server reports at startup; clients read these (libpq: client_encoding, standard_conforming_strings). */
const PARAMETERS: Record<string, string> = {
  server_version: '16.0 (vitess proxy)',
  server_encoding: 'UTF8',
  client_encoding: 'UTF8',
  DateStyle: 'ISO, MDY',
  TimeZone: 'UTC',
  IntervalStyle: 'postgres',
  integer_datetimes: 'on',
  standard_conforming_strings: 'on',
  application_name: '',
};

const sameSecret = (a: string, b: string): boolean => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

/** pg-gateway's connection, finishing authentication our way: VTGate's session opened first, then every parameter status. */
class ProxyConnection extends PostgresConnection {
  constructor(
    socket: Socket,
    private readonly proxy: ProxyOptions,
  ) {
    super(socket, {
      authMode: 'md5Password',
      validateCredentials: async (c) => c.authMode === 'md5Password' && sameSecret(c.hash, await hashMd5Password(c.user, proxy.token, c.salt)),
    });
  }

  override async completeAuthentication(): Promise<void> {
    const params = this.clientInfo!.parameters;
    const keyspace = params.database || params.user;
    let client: VitessClient;
    try {
      client = createClient({
        endpoint: this.proxy.endpoint,
        token: this.proxy.token,
        keyspace,
        ...(this.proxy.consistency && { consistency: this.proxy.consistency }),
        ...(this.proxy.region && { region: this.proxy.region }),
      });
      await client.connect();
    } catch (e) {
      const err = toVitessError(e);
      this.proxy.log?.(`connection to keyspace ${keyspace} refused: ${err.code}: ${err.message}`);
      this.sendData(errorResponse(errorNotice(err, 'FATAL')));
      this.socket.end();
      return;
    }
    // From here on the session reads the socket itself: pg-gateway 0.2.4 frames a second message
    // in one read wrongly (the extended protocol sends several at once), and handles no queries.
    const socket = this.detach();
    const send = (b: Buffer) => {
      if (!socket.destroyed) socket.write(b);
    };
    const session = new PgSession(client, send);
    const framer = new MessageFramer();
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const m of framer.push(chunk)) session.receive(m, () => socket.end());
      } catch (e) {
        send(errorResponse({ ...errorNotice(toVitessError(e), 'FATAL'), code: SQLSTATE.protocolViolation }));
        socket.end();
      }
    });
    socket.on('close', () => void session.close());
    this.isAuthenticated = true;
    this.sendAuthenticationOk();
    for (const [name, value] of Object.entries({ ...PARAMETERS, application_name: params.application_name ?? '' })) send(parameterStatus(name, value));
    send(readyForQuery('I'));
  }
}

/** Listens until `close()`. */
export function startProxy(opts: ProxyOptions): Promise<RunningProxy> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    // A client that resets the connection is its business; the session closes on 'close'.
    socket.on('error', () => undefined);
    new ProxyConnection(socket, opts);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      const { port } = server.address() as AddressInfo;
      resolve({
        host: opts.host,
        port,
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}
