// A parsed statement back to Postgres SQL text: what VTGate sends to shards, and what an embedded
// replica re-renders from DDL. Here, not in the planner, so that replicas need not import VTGate.
import { toSql, type Expr, type PGNode, type Statement } from 'pgsql-ast-parser';
import { numericText } from '../../rpc/values.js';
import { mapTree, textOf } from './ast.js';

const INT8_MAX = 2n ** 63n - 1n;

/**
 * The parser reads numbers as JS floats: a literal that would lose digits (or its scale) is
 * rendered as a cast string instead (the same type Postgres gives the literal).
 */
function exactLiterals<T>(ast: T, source: string): T {
  return mapTree(ast, (n) => {
    if (n.type !== 'integer' && n.type !== 'numeric') return undefined;
    const text = textOf(n as PGNode, source);
    if (text === undefined || !/^[-+]?[\d.]+(?:[eE][-+]?\d+)?$/.test(text)) return undefined;
    const value = n.value as number;
    if (n.type === 'integer') {
      if (Number.isSafeInteger(value)) return undefined;
      const big = BigInt(text);
      return { type: 'cast', operand: { type: 'string', value: big.toString() }, to: { name: big <= INT8_MAX && big >= -INT8_MAX - 1n ? 'int8' : 'numeric' } };
    }
    // `7.50` would render as `7.5`: the written scale is part of the value Postgres returns.
    if (String(value) === text) return undefined;
    return { type: 'cast', operand: { type: 'string', value: numericText(text) }, to: { name: 'numeric' } };
  });
}

export function renderStatement(ast: Statement, source: string): string {
  return toSql.statement(exactLiterals(ast, source));
}

export function renderExpr(e: Expr, source: string): string {
  return toSql.expr(exactLiterals(e, source));
}
