/**
 * Builds and starts the example apps under examples/ as their users do (`next build` then
 * `next start`, a SvelteKit app built with adapter-node then `node build`), on 127.0.0.1 and a
 * free port. Every process started here is killed by its `close()`, and at exit as a last resort.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { freePort } from './ports.js';
import { freshProject } from './package.js';

export const root = join(import.meta.dirname, '..', '..');
const bin = (name: string) => (isAbsolute(name) ? name : join(root, 'node_modules', '.bin', name));

/**
 * Installs this checkout as node_modules/sessionkit (its package.json and dist/, as `npm install`
 * of the packed package would), so the examples import `sessionkit/next` and friends as a
 * user's app does, through the package's exports. Run `npm run build` first (npm test does).
 */
export function linkPackage(): void {
  const target = join(root, 'node_modules', 'sessionkit');
  rmSync(target, { recursive: true, force: true });
  mkdirSync(target);
  copyFileSync(join(root, 'package.json'), join(target, 'package.json'));
  cpSync(join(root, 'dist'), join(target, 'dist'), { recursive: true });
}

/** What a copy of an example leaves out: what its build and install make. */
const BUILT = /(^|\/)(node_modules|\.next|\.svelte-kit|\.react-router|build|next-env\.d\.ts)$|\.sqlite3/;

/** Where each framework app keeps its own modules: the behaviour table's app side goes there. */
const LIB: Record<SuiteFramework, string> = { next: 'lib', sveltekit: 'src/lib', 'react-router': 'app' };

export type SuiteFramework = 'next' | 'sveltekit' | 'react-router';

/**
 * Copies examples/<framework> into `dir` as a user copies it, then adds the behaviour table's
 * `/suite` routes over it (test/fixtures/<framework>, test/fixtures/remote-suite.ts and
 * src/testing/routes.ts): the examples carry no test plumbing; the tests bring it.
 */
export function copyExampleWithSuite(framework: SuiteFramework, dir: string, keepPackageJson = false): string {
  const filter = (path: string) => !BUILT.test(path) && !(keepPackageJson && path.endsWith(`${framework}/package.json`));
  cpSync(join(root, 'examples', framework), dir, { recursive: true, filter });
  cpSync(join(root, 'test', 'fixtures', framework), dir, { recursive: true });
  const lib = join(dir, LIB[framework]);
  mkdirSync(lib, { recursive: true });
  copyFileSync(join(root, 'test', 'fixtures', 'remote-suite.ts'), join(lib, 'remote-suite.ts'));
  // the table's routes import sessionkit's types from its sources; in the app, from the package
  const routes = readFileSync(join(root, 'src', 'testing', 'routes.ts'), 'utf8').replace(/'\.\.\/core\/[a-z-]+\.js'/g, "'sessionkit'");
  writeFileSync(join(lib, 'suite-routes.ts'), routes);
  return dir;
}

/**
 * examples/<framework> with the suite routes, in test/.apps/<framework> (git-ignored), built
 * with the repository's node_modules and this checkout as node_modules/sessionkit (linkPackage).
 */
export function suiteApp(framework: SuiteFramework): string {
  const dir = join(root, 'test', '.apps', framework);
  rmSync(dir, { recursive: true, force: true });
  return copyExampleWithSuite(framework, dir);
}

/** The devDependencies' versions of `names`, for a fresh project. */
export function devVersions(...names: string[]): Record<string, string> {
  const dev = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).devDependencies as Record<string, string>;
  return Object.fromEntries(names.map((n) => [n, dev[n]!.replace(/^[\^~]/, '')]));
}

/**
 * A fresh project with the packed tarball and Next.js installed from npm (install scripts off, as
 * pnpm and npm 11 leave them until approved), examples/next copied in with the suite routes, and
 * better-sqlite3's addon taken from this checkout's build (the install script would build it).
 * Returns the folder; `next build` is the caller's.
 */
export function nextProject(): string {
  const dir = freshProject('next-app', 'module', {
    ...devVersions('next', 'react', 'react-dom', 'better-sqlite3', 'typescript', '@types/react', '@types/node'),
  });
  for (const name of ['app', 'lib']) rmSync(join(dir, name), { recursive: true, force: true });
  // the fresh project's package.json stays: it installed the packed tarball
  copyExampleWithSuite('next', dir, true);
  cpSync(join(root, 'node_modules', 'better-sqlite3', 'build'), join(dir, 'node_modules', 'better-sqlite3', 'build'), { recursive: true });
  return dir;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** Runs a command to completion in `cwd`; rejects with its output when it fails. */
export function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command === 'node' ? process.execPath : bin(command), args, {
      cwd,
      env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    live.add(child);
    let output = '';
    child.stdout!.on('data', (d) => (output += d));
    child.stderr!.on('data', (d) => (output += d));
    child.on('close', (code) => {
      live.delete(child);
      if (code === 0) resolve();
      else reject(new Error(`${command} ${args.join(' ')} exited ${code}:\n${output.slice(-4000)}`));
    });
  });
}

export interface StartedApp {
  url: string;
  close(): Promise<void>;
}

/** Starts a server process listening on a free port (given as PORT and to `args`), ready when `url` answers. */
export async function start(
  command: string,
  args: (port: number) => string[],
  cwd: string,
  env: NodeJS.ProcessEnv = {},
): Promise<StartedApp> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(command === 'node' ? process.execPath : bin(command), args(port), {
    cwd,
    // ORIGIN: the app's public origin, as adapter-node wants it behind no proxy
    env: {
      ...process.env,
      NEXT_TELEMETRY_DISABLED: '1',
      PORT: String(port),
      HOST: '127.0.0.1',
      HOSTNAME: '127.0.0.1',
      ORIGIN: url,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    live.delete(child);
  };
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`${command} exited ${child.exitCode} before listening:\n${output.slice(-4000)}`);
    try {
      await fetch(url, { redirect: 'manual' });
      return { url, close };
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  await close();
  throw new Error(`${command} did not listen on ${url} within 30 s:\n${output.slice(-4000)}`);
}
