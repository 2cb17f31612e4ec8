/**
 * capnweb over one WebSocket: a long-lived session for many calls, transactions and (later)
 * subscriptions. The transport is ours rather than capnweb's `WebSocketTransport` so that it
 * works with any standard WebSocket class (Node 22, browsers and Workers have a global one; on
 * Node 20 pass the `ws` package's), and so that a dropped connection rejects the calls in flight
 * with a `TransportFailure` ('maybe': they were sent and may have executed).
 */
import { RpcSession, type RpcStub, type RpcTransport } from 'capnweb';
import type { GatewayApi, KeyspaceApi } from '../rpc/protocol.js';
import { TransportFailure } from './failure.js';

/** What the client needs of a WebSocket (the standard API; the `ws` package has it too). */
export interface WebSocketLike {
  readonly readyState: number;
  binaryType?: string;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'open' | 'close' | 'error' | 'message', listener: (ev: never) => void): void;
}

export type WebSocketClass = new (url: string, protocols?: string | string[]) => WebSocketLike;

const OPEN = 1;

/** One WebSocket as a capnweb transport. */
class SocketTransport implements RpcTransport {
  #queue: string[] = [];
  #waiting: { resolve: (m: string) => void; reject: (e: unknown) => void } | null = null;
  #error: TransportFailure | null = null;

  constructor(private readonly ws: WebSocketLike) {
    ws.addEventListener('message', (ev: { data: unknown }) => {
      if (this.#error) return;
      if (typeof ev.data !== 'string') {
        this.fail(new TransportFailure('maybe', 'the gateway sent a non-text WebSocket message'));
        return;
      }
      if (this.#waiting) {
        this.#waiting.resolve(ev.data);
        this.#waiting = null;
      } else {
        this.#queue.push(ev.data);
      }
    });
    ws.addEventListener('close', (ev: { code?: number; reason?: string }) => {
      this.fail(new TransportFailure('maybe', `the WebSocket to the gateway closed (${ev.code ?? 'no code'}${ev.reason ? ` ${ev.reason}` : ''})`));
    });
    ws.addEventListener('error', () => {
      this.fail(new TransportFailure('maybe', 'the WebSocket to the gateway failed'));
    });
  }

  get failed(): boolean {
    return this.#error !== null;
  }

  fail(e: TransportFailure): void {
    if (this.#error) return;
    this.#error = e;
    this.#waiting?.reject(e);
    this.#waiting = null;
  }

  send(message: string): void {
    // A closed socket cannot send; the close already failed receive(), which fails every call.
    if (!this.#error && this.ws.readyState === OPEN) this.ws.send(message);
  }

  receive(): Promise<string> {
    const next = this.#queue.shift();
    if (next !== undefined) return Promise.resolve(next);
    if (this.#error) return Promise.reject(this.#error);
    return new Promise((resolve, reject) => {
      this.#waiting = { resolve, reject };
    });
  }

  abort(reason: unknown): void {
    const msg = new TextEncoder().encode(reason instanceof Error ? reason.message : String(reason)).subarray(0, 123);
    try {
      this.ws.close(3000, new TextDecoder().decode(msg).replace(/\uFFFD$/, ''));
    } catch {
      /* already closed */
    }
    this.fail(
      reason instanceof TransportFailure
        ? reason
        : new TransportFailure('maybe', `RPC session aborted: ${reason instanceof Error ? reason.message : String(reason)}`),
    );
  }
}

/** An open capnweb session over a WebSocket. */
export class SocketSession {
  readonly gateway: RpcStub<GatewayApi>;
  readonly #transport: SocketTransport;
  readonly #keyspaces = new Map<string, RpcStub<KeyspaceApi>>();
  readonly #onClose: (() => void)[] = [];
  #closed = false;

  private constructor(private readonly ws: WebSocketLike) {
    this.#transport = new SocketTransport(ws);
    this.gateway = new RpcSession<GatewayApi>(this.#transport).getRemoteMain();
    ws.addEventListener('close', () => this.#markClosed());
    ws.addEventListener('error', () => this.#markClosed());
  }

  /**
   * Opens a WebSocket and waits until it is open. A failure here provably sent nothing
   * (`TransportFailure` 'not-sent').
   */
  static open(url: string, WS: WebSocketClass, timeoutMs: number, protocols?: string[]): Promise<SocketSession> {
    return new Promise((resolve, reject) => {
      let ws: WebSocketLike;
      try {
        ws = protocols ? new WS(url, protocols) : new WS(url);
      } catch (e) {
        reject(new TransportFailure('not-sent', `cannot open a WebSocket to ${url}: ${e instanceof Error ? e.message : String(e)}`, { cause: e }));
        return;
      }
      let settled = false;
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        try {
          ws.close();
        } catch {
          /* never opened */
        }
        reject(new TransportFailure('not-sent', `the WebSocket to ${url} did not open within ${timeoutMs} ms`));
      }, timeoutMs);
      const failed = (why: string) => () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(new TransportFailure('not-sent', `cannot open a WebSocket to ${url}: ${why}`));
      };
      ws.addEventListener('error', failed('connection failed'));
      ws.addEventListener('close', (ev: { code?: number }) => failed(`closed with code ${ev.code ?? '?'} before opening`)());
      ws.addEventListener('open', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(new SocketSession(ws));
      });
      // Created after the listeners above, so that a socket already failing rejects first.
    });
  }

  get alive(): boolean {
    return !this.#closed && !this.#transport.failed && this.ws.readyState === OPEN;
  }

  /** The keyspace session (a capability), obtained once per socket and pipelined. */
  keyspace(name: string): RpcStub<KeyspaceApi> {
    let ks = this.#keyspaces.get(name);
    if (!ks) {
      ks = this.gateway.keyspace(name) as unknown as RpcStub<KeyspaceApi>;
      this.#keyspaces.set(name, ks);
    }
    return ks;
  }

  onClose(fn: () => void): void {
    if (this.#closed) fn();
    else this.#onClose.push(fn);
  }

  #markClosed(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const fn of this.#onClose.splice(0)) fn();
  }

  /** Closes the socket; calls still in flight fail with UNAVAILABLE. */
  close(): void {
    this.#transport.fail(new TransportFailure('maybe', 'the client disconnected'));
    for (const ks of this.#keyspaces.values()) disposeQuietly(ks);
    this.#keyspaces.clear();
    disposeQuietly(this.gateway);
    try {
      this.ws.close(1000, 'client disconnected');
    } catch {
      /* already closed */
    }
    this.#markClosed();
  }
}

export function disposeQuietly(stub: unknown): void {
  try {
    (stub as Partial<Disposable>)[Symbol.dispose]?.();
  } catch {
    /* already broken */
  }
}
