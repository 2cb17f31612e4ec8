import { DurableObject } from 'cloudflare:workers';
import { DoSqliteEngine } from '../engines/do-sqlite.js';
import type { BatchOptions, EngineKind, StorageEngine } from '../engines/engine.js';
import { PgliteEngine } from '../engines/pglite.js';
import { createWorkerdPGlite } from '../engines/pglite-workerd.js';
import { encodeError, VitessError } from '../rpc/errors.js';
import type { ResultSet, Statement } from '../rpc/results.js';
import type { SqlValue } from '../rpc/values.js';

/**
 * VTTablet: the primary of one shard, a Durable Object running one storage engine. The engine
 * is fixed by the first call (the keyspace's engine) and kept in the DO's storage; a call
 * naming another engine is refused rather than silently served by the wrong one.
 */
export class VTTablet extends DurableObject {
  private engine: Promise<StorageEngine> | undefined;

  private open(kind: EngineKind): Promise<StorageEngine> {
    this.engine ??= (async () => {
      const stored = await this.ctx.storage.get<EngineKind>('engine');
      if (!stored) await this.ctx.storage.put('engine', kind);
      const actual = stored ?? kind;
      if (actual === 'pglite') return new PgliteEngine(await createWorkerdPGlite());
      return new DoSqliteEngine(this.ctx.storage);
    })().catch((e: unknown) => {
      this.engine = undefined;
      throw e;
    });
    return this.engine.then(async (engine) => {
      if (engine.kind !== kind) throw new VitessError('INVALID', `this shard runs ${engine.kind}, not ${kind}`);
      return engine;
    });
  }

  /** Errors cross Workers RPC as plain Errors: the code rides in the message. */
  private async guard<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw encodeError(e);
    }
  }

  query(kind: EngineKind, sql: string, params: SqlValue[] = []): Promise<ResultSet> {
    return this.guard(async () => (await this.open(kind)).query(sql, params));
  }

  batch(kind: EngineKind, statements: Statement[], opts: BatchOptions = {}): Promise<ResultSet[]> {
    return this.guard(async () => (await this.open(kind)).batch(statements, opts));
  }
}
