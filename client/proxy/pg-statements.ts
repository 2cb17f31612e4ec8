/**
 * What the proxy must know of a statement before VTGate sees it, pure: whether it is
 * transaction control or session state the proxy answers itself, how many `$n` it binds,
 * whether it only reads, and the CommandComplete tag of its result.
 */
import { VitessError } from '../../rpc/errors.js';
import { skipQuoted } from '../sql-scan.js';

interface Token {
  /** A word (upper-cased), or `$n` as `$`. */
  word: string;
  /** Parenthesis depth. */
  depth: number;
  /** For `$n`: n. */
  param?: number;
}

/** The words and `$n` of a statement outside strings, quoted identifiers, dollar quotes and comments. */
function tokens(sql: string): Token[] {
  const out: Token[] = [];
  let depth = 0;
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql[i]!;
    const past = skipQuoted(sql, i);
    const param = c === '$' && past === i ? /^\$(\d+)/.exec(sql.slice(i, i + 12)) : null;
    if (past > i) {
      i = past;
    } else if (param) {
      out.push({ word: '$', depth, param: Number(param[1]) });
      i += param[0].length;
    } else if (c === '(') {
      depth++;
      i++;
    } else if (c === ')') {
      depth--;
      i++;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_$]*/.exec(sql.slice(i))![0];
      out.push({ word: m.toUpperCase(), depth });
      i += m.length;
    } else {
      i++;
    }
  }
  return out;
}

/** How many parameters a statement binds: its highest `$n`. */
export function paramCount(sql: string): number {
  return Math.max(0, ...tokens(sql).map((t) => t.param ?? 0));
}

const MAIN = new Set(['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'MERGE', 'VALUES', 'TABLE']);
const WRITES = new Set(['INSERT', 'UPDATE', 'DELETE', 'MERGE']);

/** The statement's command word: the first one, or after a WITH clause the first top-level SELECT/INSERT/…. */
function command(ts: Token[]): string {
  const first = ts[0]?.word ?? '';
  if (first !== 'WITH') return first;
  return ts.find((t) => t.depth === 0 && MAIN.has(t.word))?.word ?? 'SELECT';
}

/** Whether running the statement can change nothing: a query with no data-modifying part anywhere. */
export function isReadOnly(sql: string): boolean {
  const ts = tokens(sql);
  const cmd = command(ts);
  return (cmd === 'SELECT' || cmd === 'VALUES' || cmd === 'TABLE') && !ts.some((t) => WRITES.has(t.word) || t.word === 'INTO');
}

const OBJECT_WORDS = new Set(['UNIQUE', 'OR', 'REPLACE', 'TEMP', 'TEMPORARY', 'UNLOGGED', 'GLOBAL', 'LOCAL', 'CONCURRENTLY', 'IF', 'MATERIALIZED']);

/** The CommandComplete tag Postgres gives a statement that returned `rows` rows and changed `affected`. */
export function commandTag(sql: string, rows: number, affected: number): string {
  const ts = tokens(sql);
  const cmd = command(ts);
  switch (cmd) {
    case 'SELECT':
    case 'VALUES':
    case 'TABLE':
      return `SELECT ${rows}`;
    case 'INSERT':
      return `INSERT 0 ${affected}`;
    case 'UPDATE':
    case 'DELETE':
    case 'MERGE':
      return `${cmd} ${affected}`;
    case 'CREATE':
    case 'DROP':
    case 'ALTER': {
      // CREATE UNIQUE INDEX → CREATE INDEX; CREATE OR REPLACE VIEW → CREATE VIEW.
      const object = ts.slice(1).find((t) => !OBJECT_WORDS.has(t.word))?.word;
      return object ? `${cmd} ${object}` : cmd;
    }
    case 'TRUNCATE':
      return 'TRUNCATE TABLE';
    default:
      return cmd;
  }
}

/** What the proxy does with a statement. */
export type Action =
  | { kind: 'begin' }
  | { kind: 'commit' }
  | { kind: 'rollback' }
  | { kind: 'set'; tag: 'SET' | 'RESET' }
  | { kind: 'deallocate'; name: string | null; tag: string }
  | { kind: 'forward' };

const refuse = (what: string, why: string): never => {
  throw new VitessError('UNSUPPORTED', `${what} is not supported by vitess proxy: ${why}`, { construct: what });
};

/** Session settings a client may set to what VTGate does anyway (UTF-8, ISO dates, UTC, Postgres quoting): accepted and kept as they are. */
const SETTINGS: Record<string, (value: string) => boolean> = {
  client_encoding: (v) => /^(utf-?8|unicode)$/i.test(v),
  application_name: () => true,
  extra_float_digits: () => true,
  datestyle: (v) => /\biso\b/i.test(v),
  timezone: (v) => /^(utc|gmt|etc\/utc|z|zulu|\+?0+(:00)?)$/i.test(v),
  standard_conforming_strings: (v) => /^on$/i.test(v),
  intervalstyle: (v) => /^postgres$/i.test(v),
  search_path: (v) => /^("?public"?|"?\$user"?\s*,\s*"?public"?)$/i.test(v),
};

function setting(sql: string): Action {
  const body = sql
    .replace(/;\s*$/, '')
    .trim()
    .replace(/^SET\s+(SESSION\s+|LOCAL\s+)?/i, '');
  if (/^RESET\s/i.test(sql.trim())) return { kind: 'set', tag: 'RESET' };
  const zone = /^TIME\s+ZONE\s+(.+)$/i.exec(body);
  const m = zone ? ['', 'timezone', zone[1]!] : /^([A-Za-z_][\w.]*)\s*(?:=|\s+TO\s+)\s*(.+)$/is.exec(body);
  if (!m) return refuse(`"${sql.trim().slice(0, 60)}"`, 'only SET name TO value is');
  const name = m[1]!.toLowerCase();
  const value = m[2]!.trim().replace(/^'(.*)'$/s, '$1');
  const check = SETTINGS[name];
  if (!check) return refuse(`SET ${name}`, 'VTGate has no per-session settings');
  if (!check(value) && !/^default$/i.test(value)) return refuse(`SET ${name} TO ${value}`, 'the gateway always uses UTF8, ISO dates, UTC and standard strings');
  return { kind: 'set', tag: 'SET' };
}

/** Decides what to do with one statement (never more than one: split them first). */
export function actionOf(sql: string): Action {
  const ts = tokens(sql);
  const [a = '', b = '', c = ''] = ts.map((t) => t.word);
  const rest = ts.slice(1).map((t) => t.word);
  const bare = (words: string[]) => rest.every((w) => words.includes(w));
  switch (a) {
    case 'BEGIN':
    case 'START':
      if (a === 'START' && b !== 'TRANSACTION') return { kind: 'forward' };
      if (!bare(['TRANSACTION', 'WORK', 'ISOLATION', 'LEVEL', 'READ', 'COMMITTED', 'WRITE']))
        return refuse(`${a} ${rest.join(' ')}`, 'transactions take no modes other than READ WRITE, READ COMMITTED');
      return { kind: 'begin' };
    case 'COMMIT':
    case 'END':
      if (b === 'PREPARED') return refuse('COMMIT PREPARED', 'VTGate runs two-phase commit itself');
      if (!bare(['TRANSACTION', 'WORK'])) return refuse(`${a} ${rest.join(' ')}`, 'a commit takes no options');
      return { kind: 'commit' };
    case 'ROLLBACK':
    case 'ABORT':
      if (rest.includes('TO') || rest.includes('SAVEPOINT')) return refuse('ROLLBACK TO SAVEPOINT', 'savepoints are not supported');
      if (b === 'PREPARED') return refuse('ROLLBACK PREPARED', 'VTGate runs two-phase commit itself');
      if (!bare(['TRANSACTION', 'WORK'])) return refuse(`${a} ${rest.join(' ')}`, 'a rollback takes no options');
      return { kind: 'rollback' };
    case 'SAVEPOINT':
    case 'RELEASE':
      return refuse(a, 'savepoints are not supported');
    case 'PREPARE':
      return refuse(b === 'TRANSACTION' ? 'PREPARE TRANSACTION' : 'PREPARE', 'use the extended query protocol (Parse/Bind) instead');
    case 'SET':
    case 'RESET':
      if (b === 'TRANSACTION' || b === 'CONSTRAINTS' || (b === 'SESSION' && c === 'CHARACTERISTICS')) return refuse(`SET ${b}`, 'transactions have no modes');
      return setting(sql);
    case 'DEALLOCATE': {
      const name = ts.slice(1).find((t) => t.word !== 'PREPARE');
      return { kind: 'deallocate', name: !name || name.word === 'ALL' ? null : sql.trim().split(/\s+/).pop()!.replace(/;$/, ''), tag: 'DEALLOCATE' };
    }
    case 'DISCARD':
      if (b !== 'ALL') return refuse(`DISCARD ${b}`, 'only DISCARD ALL is');
      return { kind: 'deallocate', name: null, tag: 'DISCARD ALL' };
    case 'LISTEN':
    case 'NOTIFY':
    case 'UNLISTEN':
      return refuse(a, 'use vitess watch or client.subscribe for change streams');
    case 'COPY':
      return refuse('COPY', 'use vitess load for bulk loads');
    default:
      return { kind: 'forward' };
  }
}
