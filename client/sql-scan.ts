/**
 * Scanning Postgres SQL text without parsing it, pure: the shell splits input at `;` with it
 * (client/cli/split.ts) and the proxy finds a statement's words and `$n` (client/proxy/pg-statements.ts).
 */

/**
 * Where the string ('…'), quoted identifier ("…"), dollar-quoted body ($$…$$, $tag$…$tag$) or
 * comment that starts at `i` ends (the text's end if it does not); `i` itself when none starts
 * there. A doubled quote inside ('' or "") ends one string and starts the next, which comes to the
 * same. `$1` is a parameter, not a dollar quote; nor is `$tag$` right after a word (`a$b$`).
 */
export function skipQuoted(text: string, i: number): number {
  const c = text[i];
  const past = (end: number, length: number) => (end < 0 ? text.length : end + length);
  if (c === "'" || c === '"') return past(text.indexOf(c, i + 1), 1);
  if (c === '-' && text[i + 1] === '-') return past(text.indexOf('\n', i), 1);
  if (c === '/' && text[i + 1] === '*') return past(text.indexOf('*/', i + 2), 2);
  if (c === '$' && !/[A-Za-z0-9_]/.test(text[i - 1] ?? '')) {
    const tag = /^\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$/.exec(text.slice(i))?.[0];
    if (tag) return past(text.indexOf(tag, i + tag.length), tag.length);
  }
  return i;
}
