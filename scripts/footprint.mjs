#!/usr/bin/env node
// Install footprint: what `npm install X` brings into a fresh project, for sessionkit (the packed
// tarball of this checkout, without optional peers) beside express-session and iron-session.
// Prints a Markdown table: packages installed, bytes on disk under node_modules, and the wall time of
// `npm install`, cold (an empty npm cache, everything from the registry) and warm (from the local cache).
// Not run by CI. Usage: npm run build && node scripts/footprint.mjs [--ignore-scripts]
// (--ignore-scripts: no install scripts for any of the three, so a native addon's compile is not timed).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const extra = process.argv.includes('--ignore-scripts') ? ['--ignore-scripts'] : [];
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const work = mkdtempSync(join(tmpdir(), 'sessionkit-footprint-'));
const [{ filename }] = JSON.parse(
  execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: root, encoding: 'utf8' }),
);
const candidates = [
  ['sessionkit', join(work, filename)],
  ['express-session', 'express-session'],
  ['iron-session', 'iron-session'],
];

function bytes(dir) {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += bytes(path);
    else if (entry.isFile()) total += statSync(path).size;
  }
  return total;
}

function install(spec, cache) {
  const dir = mkdtempSync(join(work, 'project-'));
  writeFileSync(join(dir, 'package.json'), '{"name":"footprint","private":true}');
  const started = process.hrtime.bigint();
  execFileSync('npm', ['install', spec, ...extra, '--no-audit', '--no-fund', '--loglevel=error', '--cache', cache], { cwd: dir, stdio: 'ignore' });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const lines = execFileSync('npm', ['ls', '--all', '--parseable'], { cwd: dir, encoding: 'utf8' }).trim().split('\n');
  return { dir, seconds, packages: lines.length - 1, bytes: bytes(join(dir, 'node_modules')) };
}

console.log('| package | packages installed | bytes in node_modules | npm install, cold cache | npm install, warm cache |');
console.log('|---|---:|---:|---:|---:|');
for (const [name, spec] of candidates) {
  const cache = mkdtempSync(join(work, 'cache-'));
  const cold = install(spec, cache);
  const warm = install(spec, cache);
  const mb = (cold.bytes / 1e6).toFixed(2);
  console.log(`| ${name} | ${cold.packages} | ${cold.bytes} (${mb} MB) | ${cold.seconds.toFixed(1)} s | ${warm.seconds.toFixed(1)} s |`);
}
rmSync(work, { recursive: true, force: true });
