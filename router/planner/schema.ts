/**
 * What the planner knows of tables beyond the vschema: primary keys (the default vindex column)
 * and columns (to resolve unqualified names and `INSERT INTO t VALUES` without a column list).
 * VTGate fills it from the CREATE TABLE statements it plans, or from the shards' catalogs.
 */
import type { SchemaChange } from './plan.js';

export interface ColumnInfo {
  name: string;
  /** The declared type as written (`int`, `text`, `numeric(10,2)`…). */
  type: string;
  /** The global sequence an INSERT that leaves the column out draws from (sharded keyspaces: router/planner/sequences.ts). */
  sequence?: string;
}

export interface SchemaInfo {
  /** Primary-key columns in order; undefined when the table is unknown. */
  primaryKey(table: string): string[] | undefined;
  /** Columns in order; undefined when unknown. */
  columns(table: string): ColumnInfo[] | undefined;
}

export interface TableInfo {
  primaryKey: string[];
  columns: ColumnInfo[];
}

/** A schema held in memory, updated by the DDL plans that ran. */
export class MemorySchema implements SchemaInfo {
  private readonly tables = new Map<string, TableInfo>();

  constructor(tables: Record<string, TableInfo> = {}) {
    this.reset(tables);
  }

  primaryKey(table: string): string[] | undefined {
    return this.tables.get(table)?.primaryKey;
  }

  columns(table: string): ColumnInfo[] | undefined {
    return this.tables.get(table)?.columns;
  }

  reset(tables: Record<string, TableInfo>): void {
    this.tables.clear();
    for (const [name, t] of Object.entries(tables)) this.tables.set(name, t);
  }

  apply(change: SchemaChange): void {
    switch (change.kind) {
      case 'create':
        this.tables.set(change.table, { primaryKey: change.primaryKey, columns: change.columns });
        return;
      case 'drop':
        for (const t of change.tables) this.tables.delete(t);
        return;
      case 'alter': {
        const t = this.tables.get(change.table);
        if (!t) return;
        let columns = t.columns.filter((c) => !change.dropColumns?.includes(c.name)).concat(change.addColumns ?? []);
        let primaryKey = t.primaryKey;
        for (const [from, to] of change.renameColumns ?? []) {
          columns = columns.map((c) => (c.name === from ? { ...c, name: to } : c));
          primaryKey = primaryKey.map((c) => (c === from ? to : c));
        }
        this.tables.delete(change.table);
        this.tables.set(change.rename ?? change.table, { primaryKey, columns });
      }
    }
  }
}
