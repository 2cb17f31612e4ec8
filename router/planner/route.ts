/**
 * Where a statement's rows live: each table's routing (vschema, else hash of its first primary-key
 * column), the co-location check for joins, and the shards a WHERE clause narrows a query to.
 */
import type { Expr, ExprRef, From } from 'pgsql-ast-parser';
import { VitessError } from '../../rpc/errors.js';
import type { KeyspaceVSchema, LookupSpec, VindexSpec } from '../vschema.js';
import type { PlanKind, Target, ValueSource } from './plan.js';
import type { SchemaInfo } from './schema.js';
import { conjuncts, valueSource } from './sql.js';

export interface TableRouting {
  name: string;
  kind: 'reference' | 'sharded';
  /** Undefined when the vschema names none and the primary key is unknown. */
  vindex?: VindexSpec;
  lookups: LookupSpec[];
  /** Named by the vschema or known from a CREATE TABLE. */
  known: boolean;
}

export function tableRouting(ks: KeyspaceVSchema, schema: SchemaInfo, name: string): TableRouting {
  const t = ks.tables[name];
  if (t?.type === 'reference') return { name, kind: 'reference', lookups: [], known: true };
  const pk = schema.primaryKey(name);
  const byPk = pk?.[0] !== undefined ? ({ type: 'hash', column: pk[0] } as const) : undefined;
  if (t) return { name, kind: 'sharded', vindex: t.vindex ?? byPk, lookups: t.lookups, known: true };
  // A lookup vindex's own table is sharded by hash of its value.
  for (const owner of Object.values(ks.tables)) {
    if (owner.type === 'sharded' && owner.lookups.some((l) => l.table === name)) {
      return { name, kind: 'sharded', vindex: { type: 'hash', column: 'value' }, lookups: [], known: true };
    }
  }
  return { name, kind: 'sharded', vindex: byPk, lookups: [], known: pk !== undefined };
}

/** A table in a statement's FROM list, under its alias. */
export interface ScopeTable {
  alias: string;
  routing: TableRouting;
}

export class Scope {
  constructor(
    readonly tables: ScopeTable[],
    private readonly schema: SchemaInfo,
  ) {}

  /** The table and column a reference names; undefined when it cannot be told. */
  resolve(ref: ExprRef): { table: ScopeTable; column: string } | undefined {
    if (ref.name === '*') return undefined;
    if (ref.table) {
      const t = this.tables.find((x) => x.alias === ref.table!.name);
      return t && { table: t, column: ref.name };
    }
    if (this.tables.length === 1) return { table: this.tables[0]!, column: ref.name };
    const has = this.tables.map((t) => this.schema.columns(t.routing.name)?.some((c) => c.name === ref.name));
    if (has.includes(undefined)) return undefined;
    const hits = this.tables.filter((_, i) => has[i]);
    return hits.length === 1 ? { table: hits[0]!, column: ref.name } : undefined;
  }

  /** Whether a table is known to have a column (false also when its columns are unknown). */
  columnOf(t: ScopeTable, name: string): boolean {
    return this.schema.columns(t.routing.name)?.some((c) => c.name === name) ?? false;
  }

  /** Whether some table in scope is known to have this column. */
  hasColumn(name: string): boolean {
    return this.tables.some((t) => this.columnOf(t, name));
  }

  key(ref: Expr): string | undefined {
    if (ref.type !== 'ref') return undefined;
    const r = this.resolve(ref);
    return r && `${r.table.alias}.${r.column}`;
  }
}

/** Union-find over column keys: columns known equal by `a = b` predicates. */
class Equalities {
  private readonly parent = new Map<string, string>();
  find(k: string): string {
    const p = this.parent.get(k);
    if (p === undefined || p === k) return k;
    const root = this.find(p);
    this.parent.set(k, root);
    return root;
  }
  union(a: string, b: string): void {
    this.parent.set(this.find(a), this.find(b));
  }
}

/** The join clauses of a FROM list, flattened. */
export function joinsOf(from: From[]): { type: string; on?: Expr; using?: string[]; alias: string }[] {
  return from.flatMap((f) => {
    if (!f.join) return [];
    const alias = f.type === 'table' ? (f.name.alias ?? f.name.name) : f.type === 'statement' ? f.alias : (f.alias?.name ?? f.function.name);
    return [{ type: f.join.type, on: f.join.on ?? undefined, using: f.join.using?.map((u) => u.name), alias }];
  });
}

export interface RouteChoice {
  kind: Extract<PlanKind, 'single-shard' | 'multi-shard' | 'lookup' | 'scatter'>;
  target: Target;
  /** Whether an expression is a column equal to the routing vindex column (groups on it are shard-local). */
  onVindex: (e: Expr) => boolean;
}

const describe = (t: ScopeTable): string => {
  const v = t.routing.vindex;
  return v ? `${v.type}(${t.alias}.${v.column})` : 'an unknown vindex';
};

/**
 * Checks that the sharded tables of a join are co-located (joined on their vindex columns with
 * the same vindex) and picks the shards the WHERE clause allows.
 */
export function chooseRoute(scope: Scope, where: Expr | null | undefined, from: From[], source: string): RouteChoice {
  const eq = new Equalities();
  const joins = joinsOf(from);
  // Values may come from WHERE and inner joins; co-location may also come from outer joins' ON.
  const valueConds = [...conjuncts(where), ...joins.filter((j) => j.type === 'INNER JOIN').flatMap((j) => conjuncts(j.on))];
  for (const c of [...valueConds, ...joins.filter((j) => j.type !== 'INNER JOIN').flatMap((j) => conjuncts(j.on))]) {
    if (c.type === 'binary' && c.op === '=') {
      const [a, b] = [scope.key(c.left), scope.key(c.right)];
      if (a && b) eq.union(a, b);
    }
  }
  for (const j of joins) {
    // USING (c): c of the joined table equals c of the one table before it that has c.
    const before = scope.tables.slice(
      0,
      scope.tables.findIndex((t) => t.alias === j.alias),
    );
    for (const col of j.using ?? []) {
      const known = before.filter((t) => scope.columnOf(t, col));
      const left = known.length === 1 ? known[0] : before.length === 1 ? before[0] : undefined;
      if (left) eq.union(`${left.alias}.${col}`, `${j.alias}.${col}`);
    }
  }

  const sharded = scope.tables.filter((t) => t.routing.kind === 'sharded');
  const vindexKey = (t: ScopeTable) => `${t.alias}.${t.routing.vindex!.column}`;
  if (sharded.length > 1) {
    const names = sharded.map((t) => t.alias).join(', ');
    const unknown = sharded.find((t) => !t.routing.vindex);
    if (unknown) {
      throw new VitessError(
        'UNSUPPORTED',
        `cannot join ${names}: VTGate does not know how ${unknown.routing.name} is sharded (name it in the vschema, or create it through VTGate so its primary key is known)`,
        { construct: 'cross-shard join', table: unknown.routing.name },
      );
    }
    const [first, ...rest] = sharded as [ScopeTable, ...ScopeTable[]];
    const spec = (t: ScopeTable) => JSON.stringify({ ...t.routing.vindex, column: undefined });
    for (const t of rest) {
      if (spec(t) !== spec(first) || eq.find(vindexKey(t)) !== eq.find(vindexKey(first))) {
        throw new VitessError(
          'UNSUPPORTED',
          `join of ${first.alias} and ${t.alias} is not co-located: ${first.alias} is sharded by ${describe(first)} and ${t.alias} by ${describe(t)}, ` +
            `so matching rows can be on different shards. Join them with ${first.alias}.${first.routing.vindex!.column} = ${t.alias}.${t.routing.vindex!.column} ` +
            `(both with the same vindex type), or make one of them a reference table.`,
          { construct: 'cross-shard join' },
        );
      }
    }
  }

  // Columns of a table on the nullable side of an outer join can be NULL on every shard.
  const nullable = new Set<string>();
  for (const j of joins) {
    if (j.type === 'LEFT JOIN' || j.type === 'FULL JOIN') nullable.add(j.alias);
    if (j.type === 'RIGHT JOIN' || j.type === 'FULL JOIN') {
      for (const t of scope.tables.slice(
        0,
        scope.tables.findIndex((x) => x.alias === j.alias),
      ))
        nullable.add(t.alias);
    }
  }
  const routed = sharded.find((t) => t.routing.vindex);
  if (!routed || sharded.length === 0) return scatter(scope, joins, () => false);
  const cls = eq.find(vindexKey(routed));
  const inClass = (e: Expr) => {
    const k = scope.key(e);
    return k !== undefined && eq.find(k) === cls;
  };
  const onVindex = (e: Expr) => inClass(e) && e.type === 'ref' && !nullable.has(scope.resolve(e)!.table.alias);

  const vindex = routed.routing.vindex!;
  const values = (test: (e: Expr) => boolean): { eq?: ValueSource; list?: ValueSource[] } => {
    let list: ValueSource[] | undefined;
    for (const c of valueConds) {
      if (c.type !== 'binary') continue;
      if (c.op === '=') {
        if (test(c.left)) {
          const v = valueSource(c.right, source);
          if (v) return { eq: v };
        }
        if (test(c.right)) {
          const v = valueSource(c.left, source);
          if (v) return { eq: v };
        }
      }
      if (c.op === 'IN' && !list && test(c.left)) {
        // `x IN ($1)` parses as a bare value, not a one-item list.
        const vs = (c.right.type === 'list' ? c.right.expressions : [c.right]).map((e) => valueSource(e, source));
        if (vs.every((v) => v !== undefined)) list = vs as ValueSource[];
      }
    }
    return { list };
  };
  const v = values(inClass);
  if (v.eq) return { kind: 'single-shard', target: { type: 'vindex', vindex, values: [v.eq] }, onVindex };
  if (v.list) return { kind: 'multi-shard', target: { type: 'vindex', vindex, values: v.list }, onVindex };
  for (const t of sharded) {
    for (const lookup of t.routing.lookups) {
      const lv = values((e) => scope.key(e) === `${t.alias}.${lookup.column}`);
      const list = lv.eq ? [lv.eq] : lv.list;
      if (list) return { kind: 'lookup', target: { type: 'lookup', lookup, values: list }, onVindex };
    }
  }
  return scatter(scope, joins, onVindex);
}

/**
 * Every shard runs the query: each result row must come from one shard only. An outer join
 * that keeps the unmatched rows of a reference table (or derived table) would return them from
 * every shard, so it is refused (a filter on the sharded side's vindex would make it one shard).
 */
function scatter(scope: Scope, joins: ReturnType<typeof joinsOf>, onVindex: (e: Expr) => boolean): RouteChoice {
  const isSharded = (alias: string) => scope.tables.find((t) => t.alias === alias)?.routing.kind === 'sharded';
  let before = scope.tables.length > 0 && isSharded(scope.tables[0]!.alias);
  for (const j of joins) {
    const joined = isSharded(j.alias);
    const keeps = j.type === 'LEFT JOIN' ? !before && joined : j.type === 'RIGHT JOIN' ? before && !joined : j.type === 'FULL JOIN' ? before !== joined : false;
    if (keeps) {
      throw new VitessError(
        'UNSUPPORTED',
        `${j.type} ${j.alias} keeps the unmatched rows of a table that every shard holds a copy of, so every shard would return them: start the outer join from the sharded table, or filter on its sharding column to reach one shard`,
        { construct: `${j.type} from a reference table` },
      );
    }
    before ||= joined;
  }
  return { kind: 'scatter', target: { type: 'all' }, onVindex };
}
