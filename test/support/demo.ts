// Starts the demo shop as a user does (node + tsx on demo/server.ts) in a directory of its own,
// waits for the address it prints, and stops it by pid.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
export { freePort } from './ports.js';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const server = join(root, 'demo/server.ts');
const tsx = import.meta.resolve('tsx'); // absolute, since the demo runs in a temporary directory

/** The demo imports sessionkit by name, which resolves to dist/: build it when `npm test`'s pretest did not. */
export function ensureBuilt(): void {
  if (!existsSync(join(root, 'dist/index.js')) || !existsSync(join(root, 'dist/adapters/express.js'))) {
    execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'ignore' });
  }
}

export interface Demo {
  url: string;
  pid: number;
  output: () => string;
  /** SIGTERM, then waits for the exit; resolves to the exit code (0 when it shut down cleanly). */
  stop: () => Promise<number | null>;
}

/** A working directory for the demo, so its ./data never touches the repository's. */
export function demoDir(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'sessionkit-demo-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export async function startDemo(options: { cwd: string; port: number; env?: Record<string, string> }): Promise<Demo> {
  ensureBuilt();
  const child: ChildProcess = spawn(process.execPath, ['--import', tsx, server], {
    cwd: options.cwd,
    env: { ...process.env, PORT: String(options.port), HOST: '127.0.0.1', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`demo did not print its address within 20 s:\n${output}`)), 20_000);
    const check = () => {
      const m = /sessionkit demo listening on (http:\/\/\S+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout!.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`demo exited with ${code} before listening:\n${output}`));
    });
  });

  const pid = child.pid!;
  return {
    url,
    pid,
    output: () => output,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      process.kill(pid, 'SIGTERM');
      const kill = setTimeout(() => process.kill(pid, 'SIGKILL'), 5_000);
      const code = await exited;
      clearTimeout(kill);
      return code;
    },
  };
}
