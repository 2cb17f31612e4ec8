/**
 * VTGate's pages (`/`, `/demo`) in a browser: a navigation cannot carry a bearer token, so a page
 * asked for without one answers 401 with this form, which posts the token once to `/login`;
 * VTGate verifies it and keeps it in an HttpOnly, SameSite=Strict cookie (docs/security.md).
 */
import { htmlResponse, nonce } from './edge.js';

const SCRIPT = `
document.getElementById('login').addEventListener('submit', async (e) => {
  e.preventDefault();
  const token = document.getElementById('token').value.trim();
  const r = await fetch('/login', { method: 'POST', headers: { authorization: 'Bearer ' + token, 'content-type': 'application/json' }, body: '{}' });
  if (r.ok) location.reload();
  else document.getElementById('error').textContent = (await r.json()).error.message;
});`;

export function loginPage(reason: string): Response {
  const n = nonce();
  const esc = reason.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return htmlResponse(
    `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>Vitess.do · sign in</title><link rel="icon" href="data:,"></head>
<body style="font:15px system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem">
<h1>Vitess.do</h1>
<p>This page needs a token (<code>npx vitess token create</code>).</p>
<form id="login"><input id="token" autocomplete="off" placeholder="token" style="width:100%;padding:.4rem" required><p><button type="submit">Sign in</button></p></form>
<p id="error" role="alert">${esc}</p>
<script nonce="${n}">${SCRIPT}</script>
</body></html>`,
    n,
    401,
  );
}
