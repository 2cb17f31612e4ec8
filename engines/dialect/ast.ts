// Walks over pgsql-ast-parser trees that more than the planner needs (the embedded replica's
// live queries too), kept here so that code outside VTGate need not import the planner.
import type { PGNode, Statement } from 'pgsql-ast-parser';

type Node = Record<string, unknown>;

/** Visits every node; `fn` returning false skips the node's children. */
export function walk(node: unknown, fn: (n: Node) => boolean | void): void {
  if (Array.isArray(node)) {
    for (const x of node) walk(x, fn);
  } else if (node && typeof node === 'object') {
    if (fn(node as Node) === false) return;
    for (const [k, v] of Object.entries(node as Node)) if (k !== '_location') walk(v, fn);
  }
}

/** Copies a tree, replacing the nodes for which `fn` returns something. */
export function mapTree<T>(node: T, fn: (n: Node) => unknown): T {
  if (Array.isArray(node)) return node.map((x) => mapTree(x, fn)) as T;
  if (!node || typeof node !== 'object') return node;
  const replaced = fn(node as Node);
  if (replaced !== undefined) return replaced as T;
  const out: Node = {};
  for (const [k, v] of Object.entries(node as Node)) out[k] = k === '_location' ? v : mapTree(v, fn);
  return out as T;
}

/** A node's text in the statement it was parsed from (when the parser kept its location). */
export const textOf = (n: PGNode, source: string): string | undefined => (n._location ? source.slice(n._location.start, n._location.end) : undefined);

/** Tables a statement names anywhere (CTE names excluded). */
export function tablesIn(ast: unknown): string[] {
  const ctes = new Set<string>();
  walk(ast, (n) => {
    if (n.type === 'with') for (const b of n.bind as { alias: { name: string } }[]) ctes.add(b.alias.name);
    if (n.type === 'with recursive') ctes.add((n.alias as { name: string }).name);
  });
  const out = new Set<string>();
  walk(ast, (n) => {
    if (n.type === 'table' && n.name && typeof n.name === 'object') {
      const name = (n.name as { name: string }).name;
      if (!ctes.has(name)) out.add(name);
    }
  });
  const s = ast as Statement;
  if (s.type === 'insert') out.add(s.into.name);
  if (s.type === 'update') out.add(s.table.name);
  if (s.type === 'delete') out.add(s.from.name);
  return [...out];
}
