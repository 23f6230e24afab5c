/**
 * Builds and starts the example apps under examples/ as their users do (`next build` then
 * `next start`, a SvelteKit app built with adapter-node then `node build`), on 127.0.0.1 and a
 * free port. Every process started here is killed by its `close()`, and at exit as a last resort.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './ports.js';

export const root = join(import.meta.dirname, '..', '..');
const bin = (name: string) => join(root, 'node_modules', '.bin', name);

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
