/** EXPLAIN: a plan as indented text lines, one primitive per line (its SQL on the next). */
import type { Expr, Plan, Primitive, SortKey, Target, ValueSource } from './plan.js';
import { drawCounts } from './sequences.js';
import { mapParams } from './sql.js';

function value(v: ValueSource): string {
  if ('param' in v) return `$${v.param + 1}`;
  if ('sum' in v) return v.sum.map(value).join(' + ');
  const l = v.literal;
  return typeof l === 'string' ? `'${l.replace(/'/g, "''")}'` : typeof l === 'bigint' ? l.toString() : JSON.stringify(l);
}

function target(t: Target, shards: string[]): string {
  switch (t.type) {
    case 'all':
      return `all shards (${shards.join(', ')})`;
    case 'any':
      return shards.length === 1 ? `shard ${shards[0]}` : 'any one shard';
    case 'vindex': {
      const col = `${t.vindex.type}(${t.vindex.column})`;
      return t.values.length === 1 ? `shard of ${col} = ${value(t.values[0]!)}` : `shards of ${col} IN (${t.values.map(value).join(', ')})`;
    }
    case 'lookup': {
      const vs = t.values.map(value).join(', ');
      return `shards named by lookup ${t.lookup.table} for ${t.lookup.column} ${t.values.length === 1 ? `= ${vs}` : `IN (${vs})`}`;
    }
  }
}

const keys = (ks: SortKey[]) => ks.map((k) => `${k.column} ${k.desc ? 'DESC' : 'ASC'} NULLS ${k.nullsFirst ? 'FIRST' : 'LAST'}`).join(', ');

function expr(e: Expr): string {
  switch (e.kind) {
    case 'column':
      return e.name;
    case 'value':
      return value(e.value);
    case 'and':
    case 'or':
      return `(${e.args.map(expr).join(` ${e.kind.toUpperCase()} `)})`;
    case 'not':
      return `NOT ${expr(e.arg)}`;
    case 'is null':
    case 'is not null':
      return `${expr(e.arg)} ${e.kind.toUpperCase()}`;
    case 'compare':
      return `${expr(e.left)} ${e.op} ${expr(e.right)}`;
  }
}

/** A row's `$k` (local to the row) written as the statement's own parameter numbers. */
const global = (sql: string, params: ValueSource[]) =>
  mapParams(sql, (k) => {
    const v = params[k - 1];
    return v && 'param' in v ? v.param + 1 : k;
  });

const sqlLine = (sql: string, params: ValueSource[]) => `${sql.replace(/\s+/g, ' ').trim()}${params.length ? `  [${params.map(value).join(', ')}]` : ''}`;

function lines(p: Primitive, depth: number, out: string[]): void {
  const pad = '  '.repeat(depth);
  const add = (s: string) => out.push(pad + s);
  switch (p.op) {
    case 'Route':
      add(`Route ${p.keyspace} → ${target(p.target, p.shards)}${p.copies ? ' (every copy)' : ''}`);
      out.push(`${pad}  ${sqlLine(p.sql, p.params)}`);
      return;
    case 'Insert':
      add(`Insert into ${p.table} split by row → shard of ${p.vindex.type}(${p.vindex.column}) = ${p.rows.map((r) => value(r.key)).join(' | ')}`);
      for (const l of p.lookups) out.push(`${pad}  then lookup ${l.table} ← ${l.column}`);
      out.push(`${pad}  ${p.head}${p.rows.map((r) => global(r.sql, r.params)).join(', ')}${global(p.tail, p.tailParams)}`.replace(/\s+$/, ''));
      return;
    case 'LookupDelete':
    case 'LookupUpdate':
      add(`${p.op} keeps ${p.lookups.map((l) => l.table).join(', ')} in step`);
      if (p.op === 'LookupUpdate') lines(p.before, depth + 1, out);
      lines(p.input, depth + 1, out);
      return;
    case 'MergeSort':
      add(`MergeSort ${keys(p.keys)}`);
      break;
    case 'Sort':
      add(`Sort ${keys(p.keys)}`);
      break;
    case 'Aggregate': {
      const cols = p.columns.map((c) => (c.fn === 'first' ? `${c.name} = ${c.args[0]}` : `${c.name} = ${c.fn}(${c.args.join(', ')})`));
      add(`Aggregate${p.groupBy.length ? ` group by ${p.groupBy.join(', ')}` : ''}: ${cols.join(', ')}${p.having ? `; having ${expr(p.having)}` : ''}`);
      break;
    }
    case 'Distinct':
      add(`Distinct${p.columns ? ` on ${p.columns.join(', ')}` : p.ignore.length ? ` (ignoring ${p.ignore.join(', ')})` : ''}`);
      break;
    case 'Limit':
      add(`Limit${p.count ? ` ${value(p.count)}` : ''}${p.offset ? ` offset ${value(p.offset)}` : ''}`);
      break;
    case 'Project':
      add(`Project drop ${p.drop.join(', ')}`);
      break;
    case 'Generate': {
      // The draw, then the INSERT it feeds, at the same depth: they run one after the other.
      const counts = drawCounts(p.draw);
      const params = `$${p.draw.first + 1}${p.draw.from.length > 1 ? `…$${p.draw.first + p.draw.from.length}` : ''}`;
      add(`Draw ${params} from global sequences: ${[...counts].map(([s, n]) => (n > 1 ? `${s} ×${n}` : s)).join(', ')}`);
      lines(p.input, depth, out);
      return;
    }
    case 'Subquery':
      // The subqueries run first; their results are the outer plan's parameters.
      for (const i of p.inputs) {
        add(`Subquery ${i.kind} → $${i.param + 1}${i.present !== undefined ? ` (has values → $${i.present + 1})` : ''}`);
        lines(i.input, depth + 1, out);
      }
      lines(p.outer, depth, out);
      return;
    case 'Sequence':
      add('Sequence');
      for (const s of p.steps) lines(s, depth + 1, out);
      return;
    case 'Explain':
      lines(p.plan.root, depth, out);
      return;
  }
  lines(p.input, depth + 1, out);
}

export function explainLines(plan: Plan): string[] {
  if (plan.root.op === 'Explain') return explainLines(plan.root.plan);
  const out = [`${plan.kind} ${plan.statement} on keyspace ${plan.keyspace}`];
  lines(plan.root, 0, out);
  return out;
}
