/**
 * Failpoints: named steps of a write or a two-phase commit where a test Worker can stop the
 * process (tests/e2e/twopc-worker.ts arms them, then kills wrangler at exactly that step). One
 * module-level hook serves VTGate, coordinators and tablets alike: in local workerd they share
 * an isolate. Nothing arms them in production: `failpoint()` is then a resolved no-op.
 */
export type Failpoint =
  /** VTGate: every participant prepared; the decision is not written. */
  | 'after-prepare'
  /** Coordinator: the decision is written; no participant was told. */
  | 'after-decision'
  /** Coordinator: one participant committed, the others not yet. */
  | 'during-commit'
  /** Tablet: a participant's prepared state is durable; its answer is not sent. */
  | 'tablet-prepared'
  /** Tablet: commitPrepared applied the changes, durably (log record, txid remembered); its answer is not sent. */
  | 'tablet-commit-prepared'
  /** Tablet: a transaction's changes are applied in the engine; neither they nor their log record are committed. */
  | 'tablet-capture';

let hook: ((step: Failpoint) => Promise<void>) | undefined;

export function armFailpoints(h: ((step: Failpoint) => Promise<void>) | undefined): void {
  hook = h;
}

/** Runs the armed hook at `step`; `before` is awaited first (only when armed), to make the step exact. */
export async function failpoint(step: Failpoint, before?: () => Promise<unknown>): Promise<void> {
  if (!hook) return;
  if (before) await before().catch(() => undefined);
  await hook(step);
}
