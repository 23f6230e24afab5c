/**
 * Starts one bench server (bench/servers/<framework>.ts) in its own process pinned to core 0 with
 * `taskset`, and talks to it over IPC (`ready` with the port, `mem`, `stop`).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const benchDir = join(dirname(fileURLToPath(import.meta.url)), '..');

/** A module of the build the bench runs (BENCH_DIST, a private copy of dist/ made by run.ts). */
export function distModule(path: string): string {
  return pathToFileURL(join(process.env.BENCH_DIST ?? join(benchDir, '..', 'dist'), path)).href;
}

export interface ServerSpec {
  /** file under bench/servers (without .ts) */
  framework: string;
  env: Record<string, string>;
  /** extra node flags (e.g. --cpu-prof) */
  nodeFlags?: string[];
  /** core the server is pinned to (default 0) */
  cpu?: number;
  cwd?: string;
}

export interface Server {
  proc: ChildProcess;
  pid: number;
  base: string;
  mem(): Promise<{ heapUsed: number; rss: number }>;
  send(msg: object): Promise<any>;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
const killLive = () => {
  for (const p of live) p.kill('SIGKILL');
};
// detached servers outlive the bench unless it kills them
process.on('exit', killLive);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  const on = () => {
    killLive();
    process.off(signal, on);
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  };
  process.on(signal, on);
}

export async function startServer(spec: ServerSpec): Promise<Server> {
  const proc = spawn(
    'taskset',
    [
      '-c',
      String(spec.cpu ?? 0),
      process.execPath,
      '--import',
      'tsx',
      '--expose-gc',
      ...(spec.nodeFlags ?? []),
      join(benchDir, 'servers', `${spec.framework}.ts`),
    ],
    {
      env: { ...process.env, NODE_ENV: 'production', ...spec.env },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      cwd: spec.cwd,
      // its own session, hence its own scheduler autogroup: it competes with other work on the
      // machine as one more program, not inside the bench's share
      detached: true,
    },
  );
  live.add(proc);
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('server did not start within 30 s')), 30_000);
    const early = (code: number | null) => reject(new Error(`server exited with code ${code} before it was ready`));
    proc.once('exit', early);
    proc.on('message', (m: { type: string; port?: number }) => {
      if (m.type === 'ready') {
        clearTimeout(timer);
        proc.off('exit', early);
        resolve(m.port!);
      }
    });
  });
  proc.once('exit', () => live.delete(proc));
  let seq = 0;
  const send = (msg: object) =>
    new Promise<any>((resolve) => {
      const id = ++seq;
      const on = (m: { id?: number }) => {
        if (m.id !== id) return;
        proc.off('message', on);
        resolve(m);
      };
      proc.on('message', on);
      proc.send({ ...msg, id });
    });
  return {
    proc,
    pid: proc.pid!,
    base: `http://127.0.0.1:${port}`,
    send,
    mem: () => send({ type: 'mem' }),
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
        const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
        proc.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        proc.send({ type: 'stop' });
      }),
  };
}

/** One session per visitor: each cookie comes from a GET /count (bare servers: a cookie of the same shape). */
export async function visitorCookies(base: string, n: number, path = '/count'): Promise<string[]> {
  const cookies: string[] = [];
  for (let i = 0; i < n; i++) {
    const res = await fetch(`${base}${path}`);
    await res.text();
    const pairs = res.headers.getSetCookie().map((c) => c.split(';')[0]!);
    cookies.push(pairs.length ? pairs.join('; ') : `sessionid=${'x'.repeat(24)}${String(i).padStart(8, '0')}`);
  }
  return cookies;
}
