declare namespace Cloudflare {
  interface Env {
    HOST: DurableObjectNamespace<import('./worker.js').TestHost>;
  }
}
