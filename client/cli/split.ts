/**
 * Splits shell input into statements at `;`, pure. A `;` inside a string ('…'), a quoted
 * identifier ("…"), a dollar-quoted body ($$…$$, $tag$…$tag$) or a comment does not end one.
 */

export interface Split {
  /** Complete statements, trimmed, without their `;`. */
  statements: string[];
  /** Text after the last `;`: the start of a statement still being typed. */
  rest: string;
}

export function splitStatements(text: string): Split {
  const statements: string[] = [];
  let start = 0;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i]!;
    if (c === "'" || c === '"') {
      // '' and "" inside escape the quote: skipping to the next quote handles them as two strings.
      const end = text.indexOf(c, i + 1);
      i = end < 0 ? n : end + 1;
    } else if (c === '-' && text[i + 1] === '-') {
      const end = text.indexOf('\n', i);
      i = end < 0 ? n : end + 1;
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? n : end + 2;
    } else if (c === '$') {
      const tag = /^\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$/.exec(text.slice(i))?.[0];
      if (tag && !/[A-Za-z0-9_]/.test(text[i - 1] ?? '')) {
        const end = text.indexOf(tag, i + tag.length);
        i = end < 0 ? n : end + tag.length;
      } else {
        i++;
      }
    } else if (c === ';') {
      const s = text.slice(start, i).trim();
      if (s) statements.push(s);
      start = ++i;
    } else {
      i++;
    }
  }
  return { statements, rest: text.slice(start) };
}

/** Whether `text` holds nothing to run: whitespace and comments only. */
export function isBlank(text: string): boolean {
  return splitStatements(`${text}\n;`).statements.every((s) => s.replace(/--[^\n]*|\/\*[\s\S]*?\*\//g, '').trim() === '');
}
