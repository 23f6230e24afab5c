#!/usr/bin/env node
// package.json `exports`, written from one list: each entry point gets an `import` condition (ES module
// build in dist/) and a `require` condition (CommonJS build in dist/cjs/), each with its own types.
// To add an entry point: add a line to ENTRIES (subpath → source file under src/, without .ts),
// then run `node scripts/exports.mjs`. test/package.test.ts fails when package.json is out of date.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ENTRIES = {
  '.': 'index',
  './express': 'adapters/express',
  './node': 'adapters/node',
  './fastify': 'adapters/fastify',
  './hono': 'adapters/hono',
  './web': 'adapters/web',
  './react-router': 'adapters/react-router',
  './next': 'adapters/next',
  './sveltekit': 'adapters/sveltekit',
  './h3': 'adapters/h3',
  './koa': 'adapters/koa',
  './express-session': 'express-session/index',
  './django': 'django/index',
  './testing': 'testing/index',
};

/**
 * Runtimes without SQLite (Workers, edge, browsers) get `edge` instead of `index` for the main entry
 * point: the same exports, but no default store, so their bundles hold no SQLite code. The types
 * are index's in both cases.
 */
const EDGE_CONDITIONS = ['workerd', 'worker', 'edge-light', 'browser'];

const dual = (file, types = file) => ({
  import: { types: `./dist/${types}.d.ts`, default: `./dist/${file}.js` },
  require: { types: `./dist/cjs/${types}.d.ts`, default: `./dist/cjs/${file}.js` },
});

export function exportsField() {
  const out = {};
  for (const [subpath, file] of Object.entries(ENTRIES)) {
    if (subpath === '.') {
      out[subpath] = {};
      for (const condition of EDGE_CONDITIONS) out[subpath][condition] = dual('edge', file);
      Object.assign(out[subpath], dual(file));
    } else out[subpath] = dual(file);
  }
  out['./package.json'] = './package.json';
  return out;
}

/** The same map for TypeScript's `moduleResolution: "node"` (node10), which does not read `exports`. */
export function typesVersionsField() {
  const paths = {};
  for (const [subpath, file] of Object.entries(ENTRIES)) {
    if (subpath !== '.') paths[subpath.slice(2)] = [`./dist/cjs/${file}.d.ts`];
  }
  return { '*': paths };
}

const pkgPath = join(dirname(fileURLToPath(import.meta.url)), '..', 'package.json');

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const pkg = JSON.parse(readFileSync(pkgPath, 'utf8'));
  pkg.exports = exportsField();
  pkg.main = './dist/cjs/index.js';
  pkg.types = './dist/cjs/index.d.ts';
  pkg.typesVersions = typesVersionsField();
  writeFileSync(pkgPath, JSON.stringify(pkg, null, 2) + '\n');
}
