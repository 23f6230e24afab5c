#!/usr/bin/env node
// Builds the dual package:
//   dist/       ES modules and their .d.ts, by tsc (tsconfig.json)
//   dist/cjs/   the same modules as CommonJS, by esbuild (one file per source file, not bundled),
//               with a copy of the .d.ts files; dist/cjs/package.json says "type": "commonjs", so
//               Node and TypeScript read both the .js and the .d.ts there as CommonJS.
// package.json `exports` maps each entry point to both (see scripts/exports.mjs).
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const cjs = join(dist, 'cjs');

/** Source folders left out of the CommonJS build: the CLI runs only as the `bin`, an ES module. */
const ESM_ONLY = new Set(['cli']);

function walk(dir, out = []) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, out);
    else out.push(path);
  }
  return out;
}

rmSync(dist, { recursive: true, force: true });
// No source maps: the ES build is tsc's readable output, and maps (with the sources they need)
// would triple the installed size.
execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.json'), '--sourceMap', 'false'], {
  stdio: 'inherit',
});

const sources = walk(join(root, 'src')).filter(
  (f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !ESM_ONLY.has(relative(join(root, 'src'), f).split('/')[0]),
);
await build({
  entryPoints: sources,
  outbase: join(root, 'src'),
  outdir: cjs,
  format: 'cjs',
  platform: 'neutral',
  target: 'es2022',
  bundle: false,
  logLevel: 'warning',
  // `import.meta` only appears behind a `typeof require` check (src/core/require.ts): CommonJS has require.
  logOverride: { 'empty-import-meta': 'silent' },
});
for (const file of walk(dist)) {
  if (!file.endsWith('.d.ts') || file.startsWith(cjs + '/')) continue;
  const rel = relative(dist, file);
  if (ESM_ONLY.has(rel.split('/')[0])) continue;
  mkdirSync(dirname(join(cjs, rel)), { recursive: true });
  cpSync(file, join(cjs, rel));
}
writeFileSync(join(cjs, 'package.json'), '{ "type": "commonjs" }\n');
