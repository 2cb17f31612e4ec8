import { DurableObject } from 'cloudflare:workers';
import { openPgliteEngine } from '../../engines/pglite-workerd.js';
import { providePglite } from '../../engines/workerd-pglite.js';

providePglite(openPgliteEngine);

export { VTTablet } from '../../primary/tablet.js';
export { VTReplica } from '../../replica/replica-do.js';
export { VTCoordinator } from '../../router/txn/coordinator-do.js';

/** An empty DO: runtime tests reach its storage with `runInDurableObject`. */
export class TestHost extends DurableObject {}

export default {
  fetch(): Response {
    return new Response('runtime test worker');
  },
};
