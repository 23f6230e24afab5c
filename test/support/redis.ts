/**
 * Starts and stops real redis-server processes for tests: a standalone server or a 3-master
 * Redis Cluster, on 127.0.0.1, on random free ports. Every process started here is killed by
 * `stopAll()` (call it in `after`) and, as a last resort, when the test process exits.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RedisServer {
  port: number;
  url: string;
  dir: string;
  readonly pid: number | undefined;
  /** Kills the server (SIGKILL: a crash, nothing flushed beyond what the server already wrote). */
  kill(): Promise<void>;
  /** Starts the server again on the same port and folder (same data, when persistence is on). */
  restart(): Promise<void>;
}

export interface RedisCluster {
  nodes: RedisServer[];
  /** `{ url }` for each node, the shape node-redis's createCluster wants for rootNodes. */
  rootNodes: { url: string }[];
}

const live = new Set<ChildProcess>();
const dirs = new Set<string>();

function killLive(): void {
  for (const child of live) child.kill('SIGKILL');
}
process.on('exit', killLive);
// A test run stopped from outside (Ctrl-C, a CI timeout) skips 'exit': kill the servers, then let
// the signal do what it would have done.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  const onSignal = () => {
    killLive();
    process.off(signal, onSignal);
    process.kill(process.pid, signal);
  };
  process.on(signal, onSignal);
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A random high port that is free, and whose cluster bus port (+10000) is free too. */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = 20000 + Math.floor(Math.random() * 35000);
    if ((await portIsFree(port)) && (await portIsFree(port + 10000))) return port;
  }
  throw new Error('no free port found for redis-server');
}

/** Sends one inline command over a raw socket and returns the reply text (or throws). */
export function rawCommand(port: number, command: string, timeoutMs = 1000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let reply = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no reply to ${command} on port ${port}`));
    }, timeoutMs);
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on('connect', () => socket.write(`${command}\r\n`));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      // Simple strings, errors and integers end at the first CRLF; bulk strings after their length.
      const bulk = /^\$(\d+)\r\n/.exec(reply);
      if (bulk ? reply.length >= bulk[0].length + Number(bulk[1]) + 2 : reply.endsWith('\r\n')) {
        clearTimeout(timer);
        socket.end();
        resolve(bulk ? reply.slice(bulk[0].length, bulk[0].length + Number(bulk[1])) : reply.trim());
      }
    });
  });
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export interface StartOptions {
  /** Keep data across restarts: append-only file, fsync on every write. @default false */
  persistent?: boolean;
  /** Extra redis-server arguments. */
  args?: string[];
}

/** Starts a redis-server on a random free port and waits until it answers PING. */
export async function startRedis(options: StartOptions = {}): Promise<RedisServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), `sessionkit-redis-${port}-`));
  dirs.add(dir);
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    '--daemonize',
    'no',
    '--logfile',
    join(dir, 'redis.log'),
    ...(options.persistent ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']),
    ...(options.args ?? []),
  ];
  let child: ChildProcess | undefined;
  const launch = async () => {
    child = spawn('redis-server', args, { stdio: 'ignore' });
    live.add(child);
    const self = child;
    child.once('exit', () => live.delete(self));
    child.once('error', () => live.delete(self));
    await waitFor(`redis-server on port ${port}`, async () => (await rawCommand(port, 'PING', 300)) === '+PONG');
  };
  const stop = async () => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await exited;
  };
  await launch();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    get pid() {
      return child?.pid;
    },
    kill: stop,
    restart: async () => {
      await stop();
      await launch();
    },
  };
}

/**
 * Starts three cluster-enabled servers, joins them as 3 masters (no replicas) and waits for
 * cluster_state:ok. With `persistent`, a node killed and restarted comes back with its slots
 * (nodes.conf) and its data (append-only file).
 */
export async function startCluster(options: Pick<StartOptions, 'persistent'> = {}): Promise<RedisCluster> {
  const nodes: RedisServer[] = [];
  for (let i = 0; i < 3; i++) {
    // The config file lives in the node's own --dir (relative names resolve there).
    nodes.push(
      await startRedis({
        persistent: options.persistent,
        args: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '2000'],
      }),
    );
  }
  const created = spawnSync(
    'redis-cli',
    ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes'],
    { encoding: 'utf8', timeout: 20_000 },
  );
  if (created.status !== 0) throw new Error(`redis-cli --cluster create failed: ${created.stderr || created.stdout}`);
  for (const node of nodes) {
    await waitFor(
      `cluster_state:ok on port ${node.port}`,
      async () => (await rawCommand(node.port, 'CLUSTER INFO')).includes('cluster_state:ok'),
      20_000,
    );
  }
  return { nodes, rootNodes: nodes.map((n) => ({ url: n.url })) };
}

/** Kills every server started here and removes their folders. */
export async function stopAll(): Promise<void> {
  await Promise.all(
    [...live].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGKILL');
        }),
    ),
  );
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs.clear();
}
