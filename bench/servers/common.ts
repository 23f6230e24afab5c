/**
 * What every bench server shares: which session library and store it runs (from the
 * environment the parent sets), the sessionkit setup, and the IPC the parent drives
 * (`ready` with the port, `mem` answered with the heap and RSS after a full GC).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';

const handlers = new Map<string, (msg: any) => unknown>();
/** Answers a parent request of this type (the reply carries the request's id). */
export const onRequest = (type: string, fn: (msg: any) => unknown) => handlers.set(type, fn);

export type Impl = 'bare' | 'empty' | 'sessionkit' | 'express-session' | 'fastify-session' | 'iron-session';
export type StoreKind = 'none' | 'memory' | 'sqlite' | 'redis' | 'cookie';

export const impl = (process.env.BENCH_IMPL ?? 'bare') as Impl;
export const storeKind = (process.env.BENCH_STORE ?? 'none') as StoreKind;
export const redisUrl = process.env.BENCH_REDIS_URL ?? '';
/** Secrets for the libraries that sign or encrypt (fixed: this is a benchmark, not a deployment). */
export const SECRET = 'bench-secret-bench-secret-bench-secret-0123456789';

const cleanups: (() => Promise<void> | void)[] = [];

/** A module of the built package: ../../dist, or BENCH_DIST (another build, to compare before and after a change). */
export function fromDist(path: string): string {
  const base = process.env.BENCH_DIST ? pathToFileURL(`${process.env.BENCH_DIST}/`).href : new URL('../../dist/', import.meta.url).href;
  return new URL(path, base).href;
}
export const onExit = (fn: () => Promise<void> | void) => cleanups.push(fn);

/** sessionkit from the built package (`npm run build` runs first), as a user would import it. */
export async function sessionkitSessions() {
  const sk: Record<string, any> = await import(fromDist('index.js'));
  const logger = { warn() {}, error() {} };
  let store: unknown;
  // a store URL (sqlite:/path, postgres://…, redis://…) overrides the kind: the cost curves use it
  if (process.env.BENCH_STORE_URL) store = sk.createStore(process.env.BENCH_STORE_URL, { logger });
  else store = await storeOfKind(sk, logger);
  if (process.env.BENCH_COUNT_UPDATES) store = countingUpdates(store as Record<string, any>);
  const made = store as { stats?: () => Promise<unknown> };
  onRequest('storeStats', async () => (made.stats ? await made.stats() : {}));
  // events or OpenTelemetry (the observability part); its module is loaded only then
  const observe = process.env.BENCH_OBSERVE ? (await import('./observe.js')).observeOptions() : {};
  return sk.createSessions({
    store,
    ...(process.env.BENCH_MAX_AGE ? { cookie: { maxAge: Number(process.env.BENCH_MAX_AGE) } } : {}),
    ...observe,
  });
}

/** The store's conditional updates and their conflicts, counted (for the parallel-requests curve). */
const updates = { updates: 0, conflicts: 0, missing: 0 };
onRequest('updates', () => {
  const r = { ...updates };
  updates.updates = updates.conflicts = updates.missing = 0;
  return r;
});
function countingUpdates(store: Record<string, any>) {
  return new Proxy(store, {
    get(target, name) {
      const count = (r: { status: string }) => {
        updates.updates++;
        if (r.status === 'conflict') updates.conflicts++;
        if (r.status === 'missing') updates.missing++;
        return r;
      };
      if (name === 'update') return async (...args: unknown[]) => count(await target.update(...args));
      const v = Reflect.get(target, name, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

async function storeOfKind(sk: Record<string, any>, logger: { warn(): void; error(): void }): Promise<unknown> {
  let store: unknown;
  switch (storeKind) {
    case 'memory':
      store = new sk.MemoryStore({ logger });
      break;
    case 'sqlite': {
      const dir = mkdtempSync(join(tmpdir(), 'sessionkit-bench-'));
      store = new sk.SqliteStore({ path: join(dir, 'sessions.sqlite3'), logger });
      onExit(() => rmSync(dir, { recursive: true, force: true }));
      break;
    }
    case 'redis': {
      const { createClient } = await import('redis');
      const client = createClient({ url: redisUrl });
      await client.connect();
      store = new sk.RedisStore({ client, prefix: 'sk:', logger });
      onExit(async () => void (await client.quit()));
      break;
    }
    case 'cookie':
      store = new sk.CookieStore({ secret: SECRET });
      break;
    default:
      throw new Error(`bench: sessionkit needs a store, got ${storeKind}`);
  }
  return store;
}

export async function connectRedisStore() {
  const { createClient } = await import('redis');
  const { RedisStore } = await import('connect-redis');
  const client = createClient({ url: redisUrl });
  await client.connect();
  onExit(async () => void (await client.quit()));
  return new RedisStore({ client, prefix: 'peer:' });
}

export const IRON_OPTIONS = { password: SECRET, cookieName: 'iron', cookieOptions: { secure: false } };

// microseconds on the monotonic clock V8's profiler stamps its samples with (--cpu-prof windows)
onRequest('hrtime', () => ({ us: Number(process.hrtime.bigint() / 1000n) }));

onRequest('mem', () => {
  for (let i = 0; i < 3; i++) (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed, rss: m.rss, external: m.external };
});

/** Tells the parent the port, answers its requests, and exits cleanly on `stop`. */
export function ready(server: Server | { address(): AddressInfo | string | null }): void {
  const { port } = server.address() as AddressInfo;
  process.on('message', async (msg: { type: string; id?: number }) => {
    if (msg.type === 'stop') {
      for (const fn of cleanups) await Promise.resolve(fn()).catch(() => {});
      process.exit(0);
    }
    const fn = handlers.get(msg.type);
    if (fn) process.send!({ ...((await fn(msg)) as object), type: msg.type, id: msg.id });
  });
  process.send!({ type: 'ready', port });
}
