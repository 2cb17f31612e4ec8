/**
 * VTGate's HTTP hygiene, before any route runs (docs/security.md): the origin allowlist for
 * browsers (CORS and WebSocket upgrades), the request-body cap and media type, and the security
 * headers of HTML pages.
 */
import { VitessError } from '../../rpc/errors.js';

/** Requests bodies over this are refused (413) before they are read in full or parsed. */
export const MAX_BODY_BYTES = 1 << 20;

export interface EdgeEnv {
  /** Comma-separated origins (`https://app.example.com`) whose pages may call VTGate; `*` = any. */
  VITESS_ALLOWED_ORIGINS?: string;
}

/**
 * The request's `Origin` when a cross-origin page sent it and the allowlist admits it; `undefined`
 * when no page sent it (curl, servers) or it is VTGate's own. FORBIDDEN for any other origin: a
 * page elsewhere must not drive a browser's cookie or a WebSocket here.
 */
export function allowedOrigin(req: Request, env: EdgeEnv): string | undefined {
  const origin = req.headers.get('origin');
  if (!origin || origin === new URL(req.url).origin) return undefined;
  const list = (env.VITESS_ALLOWED_ORIGINS ?? '')
    .split(',')
    .map((o) => o.trim())
    .filter(Boolean);
  if (list.includes('*') || list.includes(origin)) return origin;
  throw new VitessError('FORBIDDEN', `origin ${origin} is not allowed: add it to VITESS_ALLOWED_ORIGINS`);
}

export function corsHeaders(origin: string | undefined): Record<string, string> {
  if (!origin) return {};
  return { 'access-control-allow-origin': origin, vary: 'origin', 'access-control-expose-headers': 'content-type' };
}

/** The answer to a CORS preflight from an allowed origin. */
export function preflight(origin: string | undefined): Response {
  return new Response(null, {
    status: 204,
    headers: {
      ...corsHeaders(origin),
      'access-control-allow-methods': 'GET, POST',
      'access-control-allow-headers': 'authorization, content-type, x-vitess-region',
      'access-control-max-age': '600',
    },
  });
}

const tooLarge = () => new VitessError('LIMIT_EXCEEDED', `the request body is over ${MAX_BODY_BYTES} bytes`, { limit: 'MAX_BODY_BYTES' });

/** A POST's body as text: 415 unless it is JSON, 413 past MAX_BODY_BYTES (read no further). */
export async function readBody(req: Request): Promise<string> {
  const type = (req.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json')
    throw new VitessError('INVALID', `POST needs content-type: application/json, not "${type || 'none'}"`, { limit: 'MEDIA_TYPE' });
  if (Number(req.headers.get('content-length') ?? 0) > MAX_BODY_BYTES) throw tooLarge();
  if (!req.body) return '';
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_BODY_BYTES) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.byteLength;
  }
  return new TextDecoder().decode(all);
}

/** A fresh nonce for a page's own inline script. */
export const nonce = (): string => btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));

/** An HTML page with its Content-Security-Policy: scripts from VTGate (and `nonce`) only, no framing. */
export function htmlResponse(html: string, scriptNonce: string, status = 200): Response {
  const csp = [
    "default-src 'self'",
    // PGlite compiles WebAssembly in the demo page.
    `script-src 'self' 'nonce-${scriptNonce}' 'wasm-unsafe-eval'`,
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
  return new Response(html, {
    status,
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'content-security-policy': csp,
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'DENY',
      'referrer-policy': 'no-referrer',
    },
  });
}
