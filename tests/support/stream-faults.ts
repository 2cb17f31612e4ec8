// msw faults on the change stream's pages (`changes` calls to VTGate's /rpc), shared by the
// subscription and embedded-replica tests: every other page request meets the next fault due.
import { bypass, delay, http, HttpResponse, passthrough } from 'msw';
import type { SetupServer } from 'msw/node';

/** 503; a reset before VTGate sees the page; a page VTGate answered but the answer lost; an answer after the client's deadline. */
export type StreamFault = '503' | 'reset' | 'lost' | 'slow';

export interface StreamFaults {
  /** Faults applied so far, in order. */
  applied: StreamFault[];
}

/**
 * Installs the handler on `mock`: page requests of `endpoint` (those `only` lets through, when
 * given) alternate between passing and taking the next of `faults` (the array is consumed).
 */
export function streamFaults(
  mock: SetupServer,
  endpoint: string,
  faults: StreamFault[],
  opts: { only?: (r: Request) => boolean; slowMs: number },
): StreamFaults {
  const state: StreamFaults = { applied: [] };
  let pages = 0;
  mock.use(
    http.post(`${endpoint}/rpc`, async ({ request: r }) => {
      const request = r as unknown as Request;
      if (opts.only && !opts.only(request)) return passthrough();
      const body = await request.clone().text();
      if (!body.includes('"changes"') || pages++ % 2 === 0 || !faults.length) return passthrough();
      const fault = faults.shift()!;
      state.applied.push(fault);
      switch (fault) {
        case '503':
          return new HttpResponse('overloaded', { status: 503 });
        case 'reset':
          return HttpResponse.error();
        case 'lost':
          await fetch(bypass(request)); // VTGate answers the page; the answer never arrives
          return HttpResponse.error();
        case 'slow': {
          const res = await fetch(bypass(request));
          await delay(opts.slowMs); // past the client's deadline
          return res;
        }
      }
    }),
  );
  return state;
}
