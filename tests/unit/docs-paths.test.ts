// Every repository path README.md and docs/*.md name must exist: in backticks (`router/session.ts`,
// `replica/`), in prose ("docs/transactions.md"), in code blocks, or as a markdown link target,
// which is resolved against the linking doc's folder ([x](../bench/RESULTS.md)). A link to a
// heading (`…md#anchor`) must name a heading of that page. Run it after moving or renaming a file.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, posix, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Top-level folders: a word followed by one of these and a slash is taken as a repository path. */
const TOP = ['bench', 'changelog', 'client', 'docs', 'engines', 'primary', 'replica', 'router', 'rpc', 'scripts', 'tests', 'dist'];

/**
 * Paths the docs may name although a fresh checkout lacks them, each with the reason. Everything
 * else is checked: a path the docs name that is not there fails the test.
 */
const EXCEPTIONS: { prefix: string; reason: string }[] = [
  { prefix: 'dist/', reason: 'build output (npm run build, scripts/build-browser.mjs, scripts/pglite-modules.mjs); gitignored' },
  { prefix: 'engines/pglite-wasm/generated/', reason: 'PGlite wasm modules written by scripts/pglite-modules.mjs at npm install; gitignored' },
  { prefix: 'tests/output/', reason: 'screenshots the browser tests write; gitignored' },
];

/**
 * Not checked at all (they are never taken for paths): URLs (`scheme://`), globs and templates
 * (`*`, `{`, `<`, `$`), package specifiers (`@dotdo/vitess/server`: the `/` before `server` is
 * not at a word start), relative imports (`../rpc/values.js`: same), and paths under folders not
 * in TOP (`node_modules/.bin`, `.wrangler/`, `.dev.vars`: local state, not the repository's).
 */
const NOT_A_PATH = /[*{}<>$]/;

const docs = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`),
];

/** A path the docs name, where: `doc:line`. */
interface Named {
  doc: string;
  line: number;
  text: string;
  /** The path from the repository root (no anchor). */
  path: string;
  anchor?: string;
}

// The match runs on through `<`, `{`, `*` and `$`, so that a template (`dist/.browser.<pid>.tmp`) is seen whole and skipped.
const BARE = new RegExp(`(?<![\\w./@$\\-])(?:${TOP.join('|')})/[^\\s\`'"()\\[\\],;|]*`, 'g');
const LINK = /\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g;

/** The paths `content` (the text of `doc`) names. */
function extract(doc: string, content: string): Named[] {
  const out: Named[] = [];
  content.split('\n').forEach((text, i) => {
    const line = i + 1;
    // Markdown links: relative to the doc's folder.
    for (const m of text.matchAll(LINK)) {
      const target = m[1]!;
      if (/^[a-z][a-z0-9+.-]*:/i.test(target) || NOT_A_PATH.test(target)) continue; // http:, mailto:, …
      const [file, anchor] = target.split('#') as [string, string | undefined];
      const path = file === '' ? doc : posix.normalize(posix.join(posix.dirname(doc), file.split('?')[0]!));
      out.push({ doc, line, text: target, path, ...(anchor !== undefined && { anchor }) });
    }
    // Everything else that starts with a top-level folder (link targets removed): from the repository root.
    for (const m of text.replace(LINK, ']').matchAll(BARE)) {
      if (NOT_A_PATH.test(m[0])) continue;
      const [file, anchor] = m[0].split('#') as [string, string | undefined];
      const path = file.replace(/:\d+(-\d+)?$/, '').replace(/[.:]+$/, ''); // `file.ts:42`, a sentence's full stop
      out.push({ doc, line, text: m[0], path, ...(anchor && { anchor: anchor.replace(/[.:]+$/, '') }) });
    }
  });
  return out;
}

const named = (doc: string): Named[] => extract(doc, readFileSync(join(ROOT, doc), 'utf8'));

const all = docs.flatMap(named);

/**
 * A file named alone in backticks (`coordinator-locks.ts`, `wrangler.jsonc`): some file of the
 * repository must have that name. Not `.js` (the build's outputs: `modules.js`, `vitess.js`) nor
 * `.json` (`RowChange.json` is a field).
 */
const NAME = /`(\w[\w.-]*\.(?:ts|mts|mjs|md|jsonc))`/g;
const SKIP_DIRS = new Set(['node_modules', 'dist', '.wrangler', '.git']);

function fileNames(dir = ROOT, out = new Set<string>()): Set<string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) {
      if (!SKIP_DIRS.has(e.name)) fileNames(join(dir, e.name), out);
    } else out.add(e.name);
  }
  return out;
}

const names = docs.flatMap((doc) =>
  readFileSync(join(ROOT, doc), 'utf8')
    .split('\n')
    .flatMap((text, i) => [...text.matchAll(NAME)].map((m) => ({ doc, line: i + 1, name: m[1]! }))),
);
// DOCS_PATHS_LIST=1 prints every path found, to see what the test checks.
if (process.env.DOCS_PATHS_LIST)
  console.log([...new Set(all.map((n) => `${n.path}${n.anchor !== undefined ? `#${n.anchor}` : ''}  <- ${n.text}`))].sort().join('\n'));

const excepted = (path: string) => EXCEPTIONS.some((e) => path === e.prefix.replace(/\/$/, '') || path.startsWith(e.prefix));

/** GitHub's heading anchors: lowercase, markup and punctuation dropped, spaces as `-`, repeats numbered. */
function anchors(doc: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  let fenced = false;
  for (const line of readFileSync(join(ROOT, doc), 'utf8').split('\n')) {
    if (/^\s*```/.test(line)) fenced = !fenced;
    const h = !fenced && /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!h) continue;
    const base = h[1]!
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/ /g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n ? `${base}-${n}` : base);
  }
  return out;
}

describe('paths named in README.md and docs/*.md', () => {
  test('what is taken for a path, and what is not', () => {
    const sample = [
      'See `router/session.ts:42`, docs/routing.md#plans, [r](../bench/RESULTS.md) and `replica/`.',
      'Not paths: https://example.com/router/x.ts, `tests/e2e/*.test.ts`, `@dotdo/vitess/server`, `../rpc/values.js`,',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a doc's template text, not a template literal
      '`dist/.browser.<pid>.tmp`, `${keyspace}/${shard}`, `primary on <shards>`, client.subscribe, [home](https://example.com).',
    ].join('\n');
    expect(extract('docs/x.md', sample).map((n) => `${n.path}${n.anchor ? `#${n.anchor}` : ''}`)).toEqual([
      'bench/RESULTS.md',
      'router/session.ts',
      'docs/routing.md#plans',
      'replica/',
    ]);
    // The real docs: some paths every version of them names.
    const paths = new Set(all.map((n) => n.path));
    for (const p of ['router/session.ts', 'rpc/bookmark.ts', 'bench/RESULTS.md', 'docs/routing.md']) expect(paths).toContain(p);
  });

  test('every path exists', () => {
    const missing = all.filter((n) => !excepted(n.path) && (n.path.startsWith('..') || !existsSync(join(ROOT, n.path))));
    const report = missing.map(
      (n) => `${n.doc}:${n.line}: ${n.text}${n.text === n.path ? '' : ` (→ ${n.path})`}${n.path.startsWith('..') ? ' is outside the repository' : ''}`,
    );
    expect(report).toEqual([]);
  });

  test('every file named alone exists somewhere in the repository', () => {
    const files = fileNames();
    expect(names.length).toBeGreaterThan(10);
    expect(names.filter((n) => !files.has(n.name)).map((n) => `${n.doc}:${n.line}: ${n.name}`)).toEqual([]);
  });

  test('every link to a heading names one', () => {
    const bad = all
      .filter((n) => n.anchor !== undefined && n.path.endsWith('.md') && existsSync(join(ROOT, n.path)) && !anchors(n.path).has(n.anchor))
      .map((n) => `${n.doc}:${n.line}: ${n.text} (headings of ${n.path}: ${[...anchors(n.path)].join(', ')})`);
    expect(bad).toEqual([]);
  });

  test('the exceptions are still needed (each is named by some doc)', () => {
    for (const e of EXCEPTIONS)
      expect(
        all.some((n) => n.path.startsWith(e.prefix) || n.path === e.prefix.replace(/\/$/, '')),
        e.prefix,
      ).toBe(true);
  });
});
