import { PGlite } from '@electric-sql/pglite';
const pg = await PGlite.create();
const { Module } = WebAssembly;
WebAssembly.Module = new Proxy(Module, { construct(t, a, n) { console.log('Module', a[0]?.byteLength); return Reflect.construct(t, a, n); } });
for (const q of process.argv.slice(2)) {
  const p = pg.query(q).then(r => console.log(q, r.rows), e => console.log(q, 'ERR', e.message));
  await Promise.race([p, new Promise(r => setTimeout(r, 3000))]);
}
process.exit(0);
