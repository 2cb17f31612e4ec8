/**
 * Splits shell input into statements at `;`, pure. A `;` inside a string ('…'), a quoted
 * identifier ("…"), a dollar-quoted body ($$…$$, $tag$…$tag$) or a comment does not end one.
 */
import { skipQuoted } from '../sql-scan.js';

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
    const past = skipQuoted(text, i);
    if (past > i) {
      i = past;
    } else if (text[i] === ';') {
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
