// The client's retry logic, pure: backoff with full jitter, the retry rule, SQL read detection,
// and the classification of transport failures.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, VitessError } from '../../rpc/errors.js';
import { classify, fetchFailure, TransportFailure } from '../../client/failure.js';
import {
  backoffCap,
  backoffDelay,
  DEFAULT_RETRY,
  retryPolicy,
  shouldRetry,
  withRetry,
  type Delivery,
  type Failure,
  type RetryPolicy,
} from '../../client/retry.js';
import { isSafeToRetry } from '../../client/statements.js';

const policy: fc.Arbitrary<RetryPolicy> = fc
  .record({ attempts: fc.integer({ min: 1, max: 20 }), baseMs: fc.integer({ min: 0, max: 10_000 }), maxMs: fc.integer({ min: 0, max: 60_000 }) })
  .map((p) => retryPolicy(p));
const retryIndex = fc.integer({ min: 0, max: 2_000 });
const unit = fc.double({ min: 0, max: 1, noNaN: true });
const delivery = fc.constantFrom<Delivery>('not-sent', 'maybe', 'answered');
const failure: fc.Arbitrary<Failure> = fc.record({
  error: fc.constantFrom(...ERROR_CODES).map((c) => new VitessError(c, 'x')),
  delivery,
});

describe('backoff', () => {
  it('never waits longer than maxMs, nor less than 0', () => {
    fc.assert(
      fc.property(policy, retryIndex, unit, (p, n, r) => {
        const d = backoffDelay(p, n, () => r);
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThanOrEqual(p.maxMs);
        expect(d).toBeLessThanOrEqual(backoffCap(p, n));
        expect(Number.isInteger(d)).toBe(true);
      }),
    );
  });

  it('has caps that never decrease and reach maxMs', () => {
    fc.assert(
      fc.property(policy, retryIndex, (p, n) => {
        expect(backoffCap(p, n + 1)).toBeGreaterThanOrEqual(backoffCap(p, n));
        expect(backoffCap(p, n)).toBeLessThanOrEqual(p.maxMs);
      }),
    );
    const p = retryPolicy({ baseMs: 10, maxMs: 1000 });
    expect([0, 1, 2, 3, 6, 7, 100].map((n) => backoffCap(p, n))).toEqual([10, 20, 40, 80, 640, 1000, 1000]);
  });

  it('is full jitter: the delay spans [0, cap)', () => {
    const p = retryPolicy({ baseMs: 100, maxMs: 10_000 });
    expect(backoffDelay(p, 3, () => 0)).toBe(0);
    expect(backoffDelay(p, 3, () => 0.5)).toBe(400);
    expect(backoffDelay(p, 3, () => 0.999999)).toBe(799);
    // A random source out of range is clamped rather than trusted.
    expect(backoffDelay(p, 3, () => 7)).toBe(800);
    expect(backoffDelay(p, 3, () => -1)).toBe(0);
  });

  it('clamps bad policies', () => {
    expect(retryPolicy()).toEqual(DEFAULT_RETRY);
    expect(retryPolicy({ attempts: 0, baseMs: -5, maxMs: -1 })).toEqual({ attempts: 1, baseMs: 0, maxMs: 0 });
    expect(retryPolicy({ baseMs: 500, maxMs: 100 })).toEqual({ attempts: DEFAULT_RETRY.attempts, baseMs: 100, maxMs: 100 });
    expect(retryPolicy({ attempts: Number.NaN }).attempts).toBe(DEFAULT_RETRY.attempts);
  });
});

describe('the retry rule', () => {
  it('never retries a write that may have executed', () => {
    fc.assert(
      fc.property(
        failure.filter((f) => f.delivery !== 'not-sent'),
        (f) => {
          expect(shouldRetry(f, false)).toBe(false);
        },
      ),
    );
  });

  it('always retries what provably did not execute', () => {
    fc.assert(
      fc.property(failure, fc.boolean(), (f, idempotent) => {
        expect(shouldRetry({ ...f, delivery: 'not-sent' }, idempotent)).toBe(true);
      }),
    );
  });

  it('retries reads on lost connections and on transient errors only', () => {
    fc.assert(
      fc.property(failure, (f) => {
        const expected = f.delivery !== 'answered' || ['UNAVAILABLE', 'CONFLICT', 'TIMEOUT'].includes(f.error.code);
        expect(shouldRetry(f, true)).toBe(expected);
      }),
    );
  });

  it('runs a write at most once after it may have been sent, whatever the failures', async () => {
    await fc.assert(
      fc.asyncProperty(
        policy,
        fc.array(fc.oneof(delivery, fc.constant('ok' as const)), { minLength: 1, maxLength: 25 }),
        fc.boolean(),
        async (p, script, idempotent) => {
          let i = 0;
          let maybeExecuted = 0;
          const delays: number[] = [];
          const out = await withRetry(
            p,
            idempotent,
            async () => {
              const step = script[Math.min(i++, script.length - 1)]!;
              if (step === 'ok') return 'ok';
              if (step !== 'not-sent') maybeExecuted++;
              throw step === 'answered' ? new Error('[UNAVAILABLE] shard down') : new TransportFailure(step, step);
            },
            {
              classify,
              sleep: async (ms) => {
                delays.push(ms);
              },
              random: () => 0.5,
            },
          ).catch((e: unknown) => e);
          expect(i).toBeLessThanOrEqual(p.attempts);
          if (!idempotent) expect(maybeExecuted).toBeLessThanOrEqual(1);
          for (const d of delays) expect(d).toBeLessThanOrEqual(p.maxMs);
          if (out !== 'ok') {
            expect(out).toBeInstanceOf(VitessError);
            expect((out as VitessError).code).toBe('UNAVAILABLE');
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('gives up after the attempts with the last error, saying so', async () => {
    const err = await withRetry(
      retryPolicy({ attempts: 3, baseMs: 1, maxMs: 1 }),
      true,
      async () => {
        throw new TransportFailure('maybe', 'reset');
      },
      { classify, sleep: async () => {} },
    ).catch((e: unknown) => e as VitessError);
    expect(err).toBeInstanceOf(VitessError);
    expect(err.code).toBe('UNAVAILABLE');
    expect(err.message).toMatch(/reset.*3 attempts/);
  });

  it('passes an answered non-transient error through unchanged and at once', async () => {
    let n = 0;
    const err = await withRetry(
      DEFAULT_RETRY,
      true,
      async () => {
        n++;
        throw new Error('[NOT_FOUND] table "nope" does not exist {"table":"nope"}');
      },
      { classify, sleep: async () => {} },
    ).catch((e: unknown) => e as VitessError);
    expect(n).toBe(1);
    expect(err.code).toBe('NOT_FOUND');
    expect(err.message).toBe('table "nope" does not exist');
    expect(err.details).toEqual({ table: 'nope' });
  });

  it('tells the caller when a write was not retried because it may have run', async () => {
    const err = await withRetry(
      DEFAULT_RETRY,
      false,
      async () => {
        throw new TransportFailure('maybe', 'connection reset');
      },
      { classify, sleep: async () => {} },
    ).catch((e: unknown) => e as VitessError);
    expect(err.code).toBe('UNAVAILABLE');
    expect(err.message).toMatch(/may have executed/);
  });
});

describe('fetch failures', () => {
  const undiciRefused = Object.assign(new TypeError('fetch failed'), {
    cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }),
  });
  const happyEyeballs = Object.assign(new TypeError('fetch failed'), {
    cause: Object.assign(
      new AggregateError([Object.assign(new Error('a'), { code: 'ECONNREFUSED' }), Object.assign(new Error('b'), { code: 'ECONNREFUSED' })]),
      { code: 'ECONNREFUSED' },
    ),
  });
  const reset = Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }) });

  it('counts refused connections and DNS failures as not sent', () => {
    expect(fetchFailure(undiciRefused, 1000).delivery).toBe('not-sent');
    expect(fetchFailure(happyEyeballs, 1000).delivery).toBe('not-sent');
    expect(fetchFailure(Object.assign(new TypeError('fetch failed'), { cause: { code: 'ENOTFOUND' } }), 1000).delivery).toBe('not-sent');
  });

  it('counts resets, opaque browser failures and timeouts as maybe sent', () => {
    expect(fetchFailure(reset, 1000).delivery).toBe('maybe');
    expect(fetchFailure(new TypeError('Failed to fetch'), 1000).delivery).toBe('maybe');
    const timeout = Object.assign(new Error('The operation was aborted due to timeout'), { name: 'TimeoutError' });
    expect(fetchFailure(timeout, 1000)).toMatchObject({ delivery: 'maybe', message: expect.stringMatching(/1000 ms/) });
  });

  it('turns connection failures into UNAVAILABLE and decodes answered errors', () => {
    expect(classify(fetchFailure(reset, 1)).error.code).toBe('UNAVAILABLE');
    expect(classify(new Error('[SYNTAX] syntax error at or near "SELEC" {"position":0}'))).toMatchObject({
      delivery: 'answered',
      error: { code: 'SYNTAX', details: { position: 0 } },
    });
    expect(classify(new Error('something odd')).error.code).toBe('INTERNAL');
  });
});

describe('read detection', () => {
  it('recognises reads', () => {
    for (const sql of [
      'SELECT 1',
      '  select * from t where id = $1',
      '(SELECT 1) UNION (SELECT 2)',
      '-- comment\nSELECT 1',
      '/* c */ SELECT 1;',
      'WITH x AS (SELECT 1) SELECT * FROM x',
      'VALUES (1)',
      'EXPLAIN SELECT * FROM t',
      'SHOW server_version',
      'TABLE t',
    ])
      expect(isSafeToRetry(sql), sql).toBe(true);
  });

  it('treats writes, DDL, side effects and anything unclear as writes', () => {
    for (const sql of [
      'INSERT INTO t VALUES (1)',
      'UPDATE t SET a = 1',
      'DELETE FROM t',
      'CREATE TABLE t (id int primary key)',
      'DROP TABLE t',
      'WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d',
      'SELECT nextval($1)',
      'SELECT * INTO t2 FROM t',
      'SELECT * FROM t FOR UPDATE',
      'EXPLAIN ANALYZE DELETE FROM t',
      'SELECT 1; DELETE FROM t',
      'BEGIN',
      '',
      '   ',
      'TRUNCATE t',
      "SELECT 'update'", // a false "write" only costs a retry
    ])
      expect(isSafeToRetry(sql), sql).toBe(false);
  });

  it('never calls a statement that begins with a data-changing keyword a read', () => {
    const writeKw = fc.constantFrom(
      'insert',
      'update',
      'delete',
      'merge',
      'create',
      'drop',
      'alter',
      'truncate',
      'copy',
      'grant',
      'call',
      'do',
      'begin',
      'commit',
    );
    fc.assert(
      fc.property(fc.constantFrom('', ' ', '\n', '(', '-- x\n', '/* y */'), writeKw, fc.string(), (lead, kw, rest) => {
        expect(isSafeToRetry(`${lead}${kw} ${rest}`)).toBe(false);
        expect(isSafeToRetry(`${lead}${kw.toUpperCase()} ${rest}`)).toBe(false);
      }),
    );
    fc.assert(
      fc.property(fc.constantFrom('INSERT INTO t', 'update t set', 'DELETE FROM t', 'merge into t'), fc.string(), (dml, rest) => {
        expect(isSafeToRetry(`WITH x AS (${dml} ${rest}) SELECT 1`)).toBe(false);
      }),
    );
  });
});
