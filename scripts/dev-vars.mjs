// `npm install` (the prepare script) in this repository: gives local development a random
// VITESS_JWT_SECRET in .dev.vars (gitignored; wrangler dev reads it, the CLI mints local admin
// tokens from it) and turns the /demo page on, unless .dev.vars already sets them.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseEnv } from 'node:util';

const path = join(dirname(fileURLToPath(import.meta.url)), '..', '.dev.vars');
const text = existsSync(path) ? readFileSync(path, 'utf8') : '';
const vars = parseEnv(text);
const add = [];
if (!vars.VITESS_JWT_SECRET) add.push(`VITESS_JWT_SECRET=${randomBytes(32).toString('base64url')}`);
if (!vars.VITESS_DEMO) add.push('VITESS_DEMO=on');
if (add.length) {
  writeFileSync(path, `${text}${text && !text.endsWith('\n') ? '\n' : ''}${add.join('\n')}\n`, { mode: 0o600 });
  console.log(`.dev.vars: wrote ${add.map((a) => a.split('=')[0]).join(', ')}`);
}
