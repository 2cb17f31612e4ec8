import { readFile } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
const d = 'node_modules/@electric-sql/pglite/dist/';
const pgliteWasmModule = new WebAssembly.Module(await readFile(d+'pglite.wasm'));
const initdbWasmModule = new WebAssembly.Module(await readFile(d+'initdb.wasm'));
const fsBundle = new Blob([await readFile(d+'pglite.data')]);
const { Module, compile, instantiate } = WebAssembly;
const isBytes = (src) => ArrayBuffer.isView(src) || src instanceof ArrayBuffer;
WebAssembly.Module = new Proxy(Module, {
  construct(target, args, newTarget) {
    console.log('Module', isBytes(args[0]), args[0]?.byteLength);
    return Reflect.construct(target, args, newTarget);
  },
});
WebAssembly.compile = (src, ...rest) => (console.log('compile', src.byteLength), compile(src, ...rest));
WebAssembly.instantiate = (src, ...rest) => (console.log('inst', isBytes(src), src.byteLength), instantiate(src, ...rest));
console.time('create');
const pg = await PGlite.create({ pgliteWasmModule, initdbWasmModule, fsBundle , debug: process.argv[2] ? 1 : 0});
console.timeEnd('create');
console.log((await pg.query('select 1 as x')).rows);
