/**
 * capnweb over one HTTP request: the calls made in one tick go out as one POST to `/rpc` and
 * their results come back in its body (capnweb's batch protocol). Unlike capnweb's own
 * `newHttpBatchRpcSession`, the fetch function and the headers are ours to choose, and a failed
 * request rejects with a `TransportFailure` that says whether it may have executed.
 */
import { RpcSession, type RpcStub, type RpcTransport } from 'capnweb';
import type { GatewayApi } from '../rpc/protocol.js';
import { VitessError } from '../rpc/errors.js';
import { fetchFailure, TransportFailure } from './failure.js';

export type FetchFn = (input: string, init: RequestInit) => Promise<Response>;

export interface HttpBatchOptions {
  url: string;
  headers: Record<string, string>;
  timeoutMs: number;
  /** Looked up on each request, so test interceptors installed later still apply. */
  fetch: () => FetchFn;
}

/** HTTP statuses with which the gateway (or the platform in front) refuses before running anything. */
const REFUSED = new Set([429, 503]);

const nextMacrotask = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

class BatchTransport implements RpcTransport {
  #outgoing: string[] | null = [];
  #incoming: string[] | null = null;
  #aborted: unknown;
  readonly #sent: Promise<void>;

  constructor(send: (batch: string[]) => Promise<string[]>) {
    this.#sent = this.#run(send);
    this.#sent.catch(() => {
      /* surfaced through receive() */
    });
  }

  send(message: string): void {
    this.#outgoing?.push(message);
  }

  async receive(): Promise<string> {
    if (!this.#incoming) await this.#sent;
    const msg = this.#incoming!.shift();
    if (msg !== undefined) return msg;
    throw new Error('Batch RPC request ended.');
  }

  abort(reason: unknown): void {
    this.#aborted = reason ?? new Error('aborted');
  }

  async #run(send: (batch: string[]) => Promise<string[]>): Promise<void> {
    await nextMacrotask(); // collect every call made in this tick
    if (this.#aborted !== undefined) throw this.#aborted;
    const batch = this.#outgoing ?? [];
    this.#outgoing = null;
    this.#incoming = await send(batch);
  }
}

async function postBatch(opts: HttpBatchOptions, batch: string[]): Promise<string[]> {
  let res: Response;
  try {
    const f = opts.fetch();
    res = await f(opts.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...opts.headers },
      body: batch.join('\n'),
      signal: AbortSignal.timeout(opts.timeoutMs),
    });
  } catch (e) {
    // A fetch that knows why it refused (an embedded replica's, once closed) says so itself.
    if (e instanceof VitessError) throw e;
    throw fetchFailure(e, opts.timeoutMs);
  }
  if (!res.ok) {
    const body = await res.text().catch(() => '');
    throw httpFailure(res, body);
  }
  let text: string;
  try {
    text = await res.text();
  } catch (e) {
    throw fetchFailure(e, opts.timeoutMs);
  }
  return text === '' ? [] : text.split('\n');
}

/** A non-2xx answer to the batch POST: capnweb itself always answers 200, so this came from outside it. */
function httpFailure(res: Response, body: string): Error {
  const detail = body ? `: ${errorMessage(body)}` : '';
  if (REFUSED.has(res.status)) {
    return new TransportFailure('not-sent', `gateway refused the request: HTTP ${res.status}${detail}`);
  }
  if (res.status >= 500) return new TransportFailure('maybe', `gateway answered HTTP ${res.status}${detail}`);
  // A 4xx: the gateway (or something in front) turned the request down before capnweb ran it,
  // e.g. a 404 when /rpc is not served. Its JSON error (router/gateway/http.ts) keeps its code.
  let code = res.status === 404 ? 'NOT_FOUND' : res.status === 413 ? 'LIMIT_EXCEEDED' : 'INVALID';
  try {
    const j = JSON.parse(body) as { error?: { code?: string } };
    if (j.error?.code) code = j.error.code;
  } catch {
    /* not JSON */
  }
  return Object.assign(new Error(`[${code}] HTTP ${res.status} from ${res.url || 'the gateway'}${detail}`), { name: 'VitessError' });
}

function errorMessage(body: string): string {
  try {
    const j = JSON.parse(body) as { error?: { message?: string } };
    if (j.error?.message) return j.error.message;
  } catch {
    /* not JSON */
  }
  return body.length > 200 ? `${body.slice(0, 200)}…` : body;
}

/** A one-shot session: every call made on it in the same tick travels in one request. */
export function httpBatchSession(opts: HttpBatchOptions): RpcStub<GatewayApi> {
  return new RpcSession<GatewayApi>(new BatchTransport((batch) => postBatch(opts, batch))).getRemoteMain();
}
