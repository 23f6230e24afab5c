/**
 * Starts a real PostgreSQL (Debian's `postgresql` package) for tests: initdb into a temporary
 * folder, run as the `postgres` system user when the tests run as root (initdb and postgres
 * refuse to run as root), on 127.0.0.1 and a free port of its own. Stopped by pid.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { freePort } from './ports.js';
import { join } from 'node:path';
import pg from 'pg';

export interface RunningPostgres {
  /** `postgres://postgres@127.0.0.1:PORT/sessionkit`: a database made for the tests. */
  url: string;
  port: number;
  /** The postmaster's pid (for tests that pause it with SIGSTOP). */
  readonly pid: number;
  /** Fast shutdown (SIGINT), waits for the postmaster to exit. The data folder is kept. */
  stop(): Promise<void>;
  /** Starts again on the same port and data folder (after `stop`). */
  restart(): Promise<void>;
  /** Stops the server and removes its folder. Safe to call twice. */
  destroy(): Promise<void>;
}

/** The bin folder of the newest PostgreSQL installed under /usr/lib/postgresql, or PG_BIN. */
export function postgresBin(): string | null {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'postgres')))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length ? join(root, versions[0]!, 'bin') : null;
}

/** uid/gid to run as: the `postgres` user when we are root, else ourselves. */
function runAs(): { uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return {};
  const id = (flag: string) => Number(spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' }).stdout.trim());
  const uid = id('-u');
  const gid = id('-g');
  if (!Number.isInteger(uid) || uid <= 0)
    throw new Error("running as root and there is no postgres user to run PostgreSQL as; install Debian's postgresql package");
  return { uid, gid };
}

export async function startPostgres(): Promise<RunningPostgres> {
  const bin = postgresBin();
  if (!bin) throw new Error('PostgreSQL is not installed: apt-get install postgresql (or set PG_BIN to its bin folder)');
  const user = runAs();
  const dir = mkdtempSync(join(tmpdir(), 'sessionkit-pg-'));
  if (user.uid !== undefined) chownSync(dir, user.uid, user.gid!);
  const data = join(dir, 'data');
  const env = { ...process.env, LC_ALL: 'C', LANG: 'C', HOME: dir };
  const init = spawnSync(
    join(bin, 'initdb'),
    ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync', '--no-instructions'],
    {
      ...user,
      env,
      cwd: dir,
      encoding: 'utf8',
    },
  );
  if (init.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`initdb failed: ${init.stderr || init.stdout || init.error}`);
  }
  const port = await freePort();
  const url = `postgres://postgres@127.0.0.1:${port}/sessionkit`;
  let child: ChildProcess | null = null;
  let log = '';

  const launch = async (): Promise<void> => {
    log = '';
    const proc = spawn(
      join(bin, 'postgres'),
      [
        '-D',
        data,
        '-p',
        String(port),
        '-k',
        dir,
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        'fsync=off',
        '-c',
        'synchronous_commit=off',
        '-c',
        'full_page_writes=off',
      ],
      { ...user, env, cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child = proc;
    const keep = (chunk: Buffer) => {
      log = (log + chunk.toString()).slice(-8000);
    };
    proc.stdout!.on('data', keep);
    proc.stderr!.on('data', keep);
    let exited = false;
    proc.once('exit', () => {
      exited = true;
    });
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (exited) throw new Error(`postgres exited at start:\n${log}`);
      const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres', connectionTimeoutMillis: 1000 });
      client.on('error', () => {});
      try {
        await client.connect();
        await client.end();
        return;
      } catch {
        await client.end().catch(() => {});
        if (Date.now() > deadline) throw new Error(`postgres did not accept connections within 20 s:\n${log}`);
        await new Promise((r) => setTimeout(r, 50)); // polling for readiness, not waiting for time to pass
      }
    }
  };

  const stop = async (): Promise<void> => {
    const proc = child;
    child = null;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    try {
      process.kill(proc.pid!, 'SIGCONT'); // in case a test paused it
      process.kill(proc.pid!, 'SIGINT'); // fast shutdown
    } catch {
      return;
    }
    const timer = setTimeout(() => {
      try {
        process.kill(proc.pid!, 'SIGQUIT'); // immediate shutdown if fast shutdown hangs
      } catch {}
    }, 10_000);
    await gone;
    clearTimeout(timer);
  };

  try {
    await launch();
    const admin = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres' });
    await admin.connect();
    await admin.query('CREATE DATABASE sessionkit');
    await admin.end();
  } catch (err) {
    await stop();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }

  let destroyed = false;
  return {
    url,
    port,
    get pid() {
      return (child as ChildProcess | null)?.pid ?? -1;
    },
    stop,
    restart: async () => {
      if (child) await stop();
      await launch();
    },
    destroy: async () => {
      if (destroyed) return;
      destroyed = true;
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
