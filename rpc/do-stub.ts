/**
 * The one way to reach a Durable Object: its stub seen as `Stub<Api>` (rpc/do-api.ts), the only
 * cast of a DO stub. Comparing the generated stub type with an API is too deep for tsc, so the
 * stub is only checked to offer each method `Api` names: a method renamed in the class fails
 * here, at every caller, besides at the class's `implements`.
 */
import type { Stub } from './do-api.js';

/** A stub offering (at least) every method `Api` names. */
export type Offering<Api> = { readonly [K in keyof Api]: unknown };

export const stubOf = <Api>(stub: Offering<Api>): Stub<Api> => stub as unknown as Stub<Api>;
