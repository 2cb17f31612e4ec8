import { expect } from 'vitest';
import { VitessError } from '../../rpc/errors.js';

/** The VitessError `p` rejects with (the test fails if it resolves or rejects with anything else). */
export async function failure(p: Promise<unknown>): Promise<VitessError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(VitessError);
    return e as VitessError;
  }
  throw new Error('expected the call to fail');
}
