import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The package as a user gets it: `npm pack` of the built tree, installed into a fresh project.
 * Both are kept in one folder under the system's temporary directory and reused by every test file
 * until dist/ or package.json changes, so only the first file pays for pack + install.
 */
export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
// Outside any node_modules folder: Jest finds no test under one.
const cache = join(tmpdir(), `sessionkit-package-${createHash('sha256').update(root).digest('hex').slice(0, 12)}`);
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function newestMtime(dir: string): number {
  let newest = 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const st = statSync(path);
    newest = Math.max(newest, st.isDirectory() ? newestMtime(path) : st.mtimeMs);
  }
  return newest;
}

function buildStamp(): string {
  if (!existsSync(join(root, 'dist', 'cjs', 'index.js'))) execFileSync(npm, ['run', 'build'], { cwd: root, stdio: 'inherit' });
  return `${newestMtime(join(root, 'dist'))}:${statSync(join(root, 'package.json')).mtimeMs}`;
}

/** The path of `npm pack`'s tarball of the current build. */
export function packedTarball(): string {
  const stamp = buildStamp();
  const stampFile = join(cache, 'tarball.stamp');
  const tgz = join(cache, 'sessionkit.tgz');
  if (existsSync(tgz) && existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp) return tgz;
  rmSync(cache, { recursive: true, force: true });
  mkdirSync(cache, { recursive: true });
  const out = execFileSync(npm, ['pack', '--ignore-scripts', '--json', '--pack-destination', cache], { cwd: root, encoding: 'utf8' });
  const [{ filename }] = JSON.parse(out) as [{ filename: string }];
  execFileSync('mv', [join(cache, filename), tgz]);
  writeFileSync(stampFile, stamp);
  return tgz;
}

/** Extra packages the shared project installs beside sessionkit (all in the repo's lock, so in npm's cache). */
const PROJECT_DEPS = ['hono', '@hono/node-server'];

/**
 * A fresh project (`{"type": "commonjs"}` package.json) with the tarball installed by npm from the local
 * cache, without install scripts and without optional peers except those in PROJECT_DEPS.
 */
export function installedProject(): string {
  const versions = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).devDependencies as Record<string, string>;
  return freshProject('project', 'commonjs', Object.fromEntries(PROJECT_DEPS.map((d) => [d, versions[d]!])));
}

/**
 * A fresh project named `name` with the tarball and `deps` (name → version range) installed by npm,
 * from the local cache where it can; kept until the tarball or `deps` change.
 */
export function freshProject(name: string, type: 'commonjs' | 'module', deps: Record<string, string>): string {
  const tgz = packedTarball();
  const dir = join(cache, name);
  const stampFile = join(dir, '.stamp');
  const stamp = `${readFileSync(join(cache, 'tarball.stamp'), 'utf8')}:${type}:${JSON.stringify(deps)}`;
  if (existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp) return dir;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ name: `fresh-${name}`, private: true, type, dependencies: { sessionkit: `file:${tgz}`, ...deps } }),
  );
  execFileSync(npm, ['install', '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  writeFileSync(stampFile, stamp);
  return dir;
}

/** Runs a binary from the repo's node_modules/.bin. */
export function bin(name: string): string {
  return join(root, 'node_modules', '.bin', name);
}
