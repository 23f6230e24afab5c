/**
 * A real Django (Debian's python3-django) driven from tests: test/support/django/peer.py runs as
 * one long-lived python3 process that answers one JSON command per line. Stopped by pid.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const PEER = fileURLToPath(new URL('./peer.py', import.meta.url));

/** A python3 that can import Django: $DJANGO_PYTHON, then /usr/bin/python3 (Debian's), then python3 on PATH. */
export function djangoPython(): string | null {
  for (const candidate of [process.env.DJANGO_PYTHON, '/usr/bin/python3', 'python3']) {
    if (!candidate) continue;
    const r = spawnSync(candidate, ['-c', 'import django'], { stdio: 'ignore' });
    if (r.status === 0) return candidate;
  }
  return null;
}

/** Whether that python3 also has psycopg2 (Debian's python3-psycopg2), which Django needs for PostgreSQL. */
export function hasPsycopg2(python: string): boolean {
  return spawnSync(python, ['-c', 'import psycopg2'], { stdio: 'ignore' }).status === 0;
}

export interface DjangoPeer {
  /** Runs one command (see peer.py); rejects with Django's error. */
  run<T = Record<string, any>>(cmd: string, args?: Record<string, unknown>): Promise<T>;
  readonly pid: number;
  stop(): Promise<void>;
}

export interface DjangoPeerOptions {
  secret: string;
  /** Django's SQLite file; or `pg` for PostgreSQL. */
  sqlite?: string;
  pg?: { host: string; port: number; user: string; database: string };
}

export async function startDjango(options: DjangoPeerOptions): Promise<DjangoPeer> {
  const python = djangoPython();
  if (!python) throw new Error('Django is not installed: apt-get install python3-django');
  const env: NodeJS.ProcessEnv = { ...process.env, DJANGO_SECRET_KEY: options.secret, PYTHONDONTWRITEBYTECODE: '1' };
  if (options.pg) {
    Object.assign(env, {
      DJANGO_PG_HOST: options.pg.host,
      DJANGO_PG_PORT: String(options.pg.port),
      DJANGO_PG_USER: options.pg.user,
      DJANGO_PG_NAME: options.pg.database,
    });
  } else env.DJANGO_SQLITE = options.sqlite;
  const child: ChildProcessWithoutNullStreams = spawn(python, [PEER], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b) => void (stderr += b));
  const lines = createInterface({ input: child.stdout });
  const waiting: ((line: string | null) => void)[] = [];
  lines.on('line', (line) => waiting.shift()?.(line));
  child.on('exit', () => {
    for (const w of waiting.splice(0)) w(null);
  });
  let queue = Promise.resolve();
  const peer: DjangoPeer = {
    pid: child.pid!,
    run<T>(cmd: string, args: Record<string, unknown> = {}): Promise<T> {
      const result = queue.then(
        () =>
          new Promise<T>((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error(`Django peer did not answer ${cmd} in 20 s; stderr: ${stderr}`)), 20_000);
            waiting.push((line) => {
              clearTimeout(timer);
              if (line === null) return reject(new Error(`Django peer exited; stderr: ${stderr}`));
              const answer = JSON.parse(line);
              if (answer.ok) resolve(answer as T);
              else reject(new Error(`Django ${cmd}: ${answer.error}`));
            });
            child.stdin.write(JSON.stringify({ cmd, ...args }) + '\n');
          }),
      );
      queue = result.then(
        () => {},
        () => {},
      );
      return result;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.stdin.end();
      const timer = setTimeout(() => process.kill(child.pid!, 'SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    },
  };
  await peer.run('version');
  return peer;
}
