/**
 * Failpoints: named steps of the two-phase commit path where a test Worker can stop the
 * process (tests/e2e/twopc-worker.ts arms them, then kills wrangler at exactly that step).
 * Nothing arms them in production: `failpoint()` is then a resolved no-op.
 */
export type TwoPhaseStep =
  /** Every participant prepared; the decision is not written. */
  | 'after-prepare'
  /** The decision is written; no participant was told. */
  | 'after-decision'
  /** One participant committed, the others not yet. */
  | 'during-commit';

let hook: ((step: TwoPhaseStep) => Promise<void>) | undefined;

export function armFailpoints(h: ((step: TwoPhaseStep) => Promise<void>) | undefined): void {
  hook = h;
}

/** Runs the armed hook at `step`; `before` is awaited first (only when armed), to make the step exact. */
export async function failpoint(step: TwoPhaseStep, before?: () => Promise<unknown>): Promise<void> {
  if (!hook) return;
  if (before) await before().catch(() => undefined);
  await hook(step);
}
