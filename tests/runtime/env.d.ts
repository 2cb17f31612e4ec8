declare namespace Cloudflare {
  interface Env {
    HOST: DurableObjectNamespace<import('./worker.js').TestHost>;
    TABLET: DurableObjectNamespace<import('../../primary/tablet.js').VTTablet>;
  }
}
