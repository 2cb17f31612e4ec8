// Point insert / point select throughput of one engine, the same loop in Node and in a DO.
import { measure } from './measure.mjs';

export const INSERTS = 2000;
export const SELECTS = 5000;

/** `db`: a StorageEngine. Returns { insert, select } measurements. */
export async function pointOps(db, table = 'bench_kv') {
  await db.query(`DROP TABLE IF EXISTS ${table}`);
  await db.query(`CREATE TABLE ${table} (id BIGINT PRIMARY KEY, name TEXT NOT NULL, score INT)`);
  const insert = await measure(INSERTS, (i) => db.query(`INSERT INTO ${table} (id, name, score) VALUES ($1, $2, $3)`, [i, `user-${i}`, i % 100]));
  const select = await measure(SELECTS, (i) => db.query(`SELECT id, name, score FROM ${table} WHERE id = $1`, [(i * 7919) % INSERTS]));
  return { insert, select };
}
