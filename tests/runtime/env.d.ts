declare namespace Cloudflare {
  interface Env {
    HOST: DurableObjectNamespace<import('./worker.js').TestHost>;
    TABLET: DurableObjectNamespace<import('../../primary/tablet.js').VTTablet>;
    REPLICA: DurableObjectNamespace<import('../../replica/replica-do.js').VTReplica>;
    COORDINATOR: DurableObjectNamespace<import('../../router/txn/coordinator-do.js').VTCoordinator>;
    ASSETS: Fetcher;
  }
}
