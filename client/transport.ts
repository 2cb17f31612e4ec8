/**
 * The two ways to VTGate's `/rpc`: one HTTP batch per call (the default: nothing to open or
 * close, fine for one-shot calls and serverless callers), or one long-lived WebSocket after
 * `connect()` (cheaper per call, needed for transactions). A dropped WebSocket is reopened on
 * the next call; the calls that were in flight on it fail as 'maybe' delivered (retried only
 * when they read, see retry.ts).
 */
import type { RpcStub } from 'capnweb';
import { VitessError } from '../rpc/errors.js';
import { BEARER_PROTOCOL, RPC_PROTOCOL, type GatewayApi, type KeyspaceApi } from '../rpc/protocol.js';
import { TransportFailure } from './failure.js';
import { httpBatchSession, type FetchFn } from './http-batch.js';
import { SocketSession, type WebSocketClass } from './websocket.js';

export interface TransportOptions {
  endpoint: string;
  token?: string;
  /** Per-call deadline, and the deadline for opening a WebSocket. */
  timeoutMs: number;
  fetch?: FetchFn;
  WebSocket?: WebSocketClass;
  /** False: HTTP batch responses are asked for uncompressed. */
  compression?: boolean;
}

/** What a call sees: the gateway and a keyspace session on the same connection. */
export interface Api {
  gateway: RpcStub<GatewayApi>;
  keyspace(name: string): RpcStub<KeyspaceApi>;
}

/** `http://host/base` → `http://host/base/rpc` (and `ws://` for the socket). */
export function rpcUrl(endpoint: string, scheme: 'http' | 'ws'): string {
  const u = new URL(endpoint);
  if (!/^(https?|wss?):$/.test(u.protocol)) throw new VitessError('INVALID', `endpoint must be an http(s) or ws(s) URL, got ${endpoint}`);
  const secure = u.protocol === 'https:' || u.protocol === 'wss:';
  u.protocol = scheme === 'ws' ? (secure ? 'wss:' : 'ws:') : secure ? 'https:' : 'http:';
  u.pathname = `${u.pathname.replace(/\/+$/, '')}/rpc`;
  return u.toString();
}

export class Transport {
  readonly #opts: TransportOptions;
  #socket: SocketSession | null = null;
  #opening: Promise<SocketSession> | null = null;
  /** Set by connect(), cleared by disconnect(): calls go over the WebSocket while set. */
  #wantSocket = false;
  #reconnects = 0;
  #opened = 0;

  constructor(opts: TransportOptions) {
    this.#opts = opts;
  }

  get connected(): boolean {
    return this.#wantSocket;
  }

  /** How many times a dropped WebSocket was reopened. */
  get reconnects(): number {
    return this.#reconnects;
  }

  /** Opens the WebSocket (one attempt; the caller retries). Calls use it until disconnect(). */
  async connect(): Promise<void> {
    this.#wantSocket = true;
    await this.#shared();
  }

  disconnect(): void {
    this.#wantSocket = false;
    this.#socket?.close();
    this.#socket = null;
  }

  /** Runs one call: over the WebSocket when connected, else as one HTTP batch. */
  async call<T>(fn: (api: Api) => Promise<T>): Promise<T> {
    if (this.#wantSocket) {
      const s = await this.#shared();
      return deadline(fn({ gateway: s.gateway, keyspace: (n) => s.keyspace(n) }), this.#opts.timeoutMs);
    }
    const gateway = httpBatchSession({
      url: rpcUrl(this.#opts.endpoint, 'http'),
      headers: {
        ...(this.#opts.token && { authorization: `Bearer ${this.#opts.token}` }),
        ...(this.#opts.compression === false && { 'accept-encoding': 'identity' }),
      },
      timeoutMs: this.#opts.timeoutMs,
      fetch: () => this.#opts.fetch ?? ((input, init) => globalThis.fetch(input, init)),
    });
    // Both calls are made in this tick, so they travel in the one request.
    return fn({ gateway, keyspace: (n) => gateway.keyspace(n) as unknown as RpcStub<KeyspaceApi> });
  }

  /**
   * A WebSocket session for a transaction: the shared one when connected, else a socket of its
   * own that `release` closes.
   */
  async session(): Promise<{ session: SocketSession; release: () => void }> {
    if (this.#wantSocket) return { session: await this.#shared(), release: () => {} };
    const session = await this.#open();
    return { session, release: () => session.close() };
  }

  #shared(): Promise<SocketSession> {
    if (this.#socket?.alive) return Promise.resolve(this.#socket);
    this.#opening ??= this.#open().then(
      (s) => {
        this.#opening = null;
        if (!this.#wantSocket) {
          s.close(); // disconnect() while opening
          throw new TransportFailure('not-sent', 'the client disconnected');
        }
        if (this.#opened++ > 0) this.#reconnects++;
        this.#socket = s;
        s.onClose(() => {
          if (this.#socket === s) this.#socket = null;
        });
        return s;
      },
      (e: unknown) => {
        this.#opening = null;
        throw e;
      },
    );
    return this.#opening;
  }

  #open(): Promise<SocketSession> {
    const WS = this.#opts.WebSocket ?? (globalThis as { WebSocket?: WebSocketClass }).WebSocket;
    if (!WS) {
      return Promise.reject(
        new VitessError(
          'INVALID',
          'no WebSocket class here (Node 20): pass createClient({ WebSocket }) from the "ws" package, or use HTTP batch mode (no connect())',
        ),
      );
    }
    // The token goes as a subprotocol, never in the URL (URLs end up in logs): browsers cannot
    // set headers on a WebSocket. VTGate answers with the first one.
    const protocols = this.#opts.token ? [RPC_PROTOCOL, `${BEARER_PROTOCOL}${this.#opts.token}`] : undefined;
    return SocketSession.open(rpcUrl(this.#opts.endpoint, 'ws'), WS, this.#opts.timeoutMs, protocols).catch((e: unknown) => this.#refusal(e));
  }

  /**
   * A WebSocket that failed to open tells nothing of why. Ask once over HTTP: a gateway that turns
   * the token down says so (UNAUTHENTICATED / FORBIDDEN, not retried); else the failure stands.
   */
  async #refusal(e: unknown): Promise<never> {
    const res = await (this.#opts.fetch ?? globalThis.fetch)(`${this.#opts.endpoint.replace(/\/+$/, '')}/status`, {
      method: 'GET',
      headers: this.#opts.token ? { authorization: `Bearer ${this.#opts.token}` } : {},
      signal: AbortSignal.timeout(this.#opts.timeoutMs),
    }).catch(() => undefined);
    if (res && (res.status === 401 || res.status === 403)) {
      const body = (await res.json().catch(() => ({}))) as { error?: { code?: string; message?: string } };
      throw new VitessError(res.status === 401 ? 'UNAUTHENTICATED' : 'FORBIDDEN', body.error?.message ?? `HTTP ${res.status}`);
    }
    throw e;
  }
}

/** Rejects with a 'maybe' TransportFailure when `p` does not settle within `ms`. */
export function deadline<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TransportFailure('maybe', `no answer from the gateway within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
