/**
 * `npm run bench -- redis-micro [--filter REGEX]`: RedisStore's own CPU per operation, without
 * HTTP, against a real redis-server (started here, on the other core when there is one). For
 * each client the bench servers and users bring, 32 operations are kept in flight at a time (as
 * 32 HTTP connections would), and µs of this process's CPU (process.cpuUsage: the client's
 * encoding, parsing and promises, the store's own work; not the server's) per operation are
 * reported for:
 *
 *   raw GET        the client's own `get()` of the value a session load reads
 *   raw send GET   the client's generic command path (node-redis `sendCommand`, ioredis `call`)
 *   floor GET      that path as RedisStore uses it (node-redis: without the client's queue timeout,
 *                  as the store sends while the client is ready): the floor of a load
 *   load           RedisStore.load: GET + decoding the stored value
 *   raw EVALSHA    the client's `evalSha()` of a compare-and-set with the same key and arguments
 *   floor EVALSHA  that EVALSHA through the generic path as RedisStore sends it: the floor of an update
 *   update         RedisStore.update: encoding + EVALSHA of the compare-and-set script
 *   session read   createSessions: load for a request with a cookie, one get, commit (nothing written)
 *   session count  the same with one set: load + update (the /count route)
 *
 * Median of 9 interleaved rounds of 20,000 operations per case; the spread is min–max. `--filter` matches
 * `client/case` (e.g. `--filter 'node-redis 6/'`). Not run by CI.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { Redis as Ioredis } from 'ioredis';
import { Redis as Ioredis5 } from 'ioredis5';
import { Redis as Iovalkey } from 'iovalkey';
import { createClient } from 'redis';
import { createClient as createClient4 } from 'redis4';
import { createClient as createClient5 } from 'redis5';
import { startRedis, stopAll } from '../test/support/redis.js';
import { median } from './lib/proc.js';
import { distModule } from './lib/server.js';

const SESSIONS = 256;
const IN_FLIGHT = 32;
const OPS = 20_000;
const RUNS = 9;
const PREFIX = 'mb:';

/** A compare-and-set as the floor of an update: the same key and four arguments, one GET and one SET on the server. */
const RAW_SCRIPT = `
local cur = redis.call('GET', KEYS[1])
if tonumber(ARGV[3]) <= 0 then return 'missing' end
redis.call('SET', KEYS[1], ARGV[4], 'PX', ARGV[3])
return tonumber(ARGV[1]) + 1
`;
const CASES = ['raw GET', 'raw send GET', 'floor GET', 'load', 'raw EVALSHA', 'floor EVALSHA', 'update', 'session read', 'session count'];
const RAW_SHA = createHash('sha1').update(RAW_SCRIPT).digest('hex');

/** What the bench calls on a client, whichever family. */
interface Raw {
  get(key: string): Promise<unknown>;
  send(args: string[]): Promise<unknown>;
  /** As the store sends: node-redis without its per-command queue timeout. */
  floor(args: string[]): Promise<unknown>;
  evalSha(key: string, args: string[]): Promise<unknown>;
  client: unknown;
  close(): Promise<unknown>;
}

type NodeRedis = ReturnType<typeof createClient>;
const NO_CLIENT_TIMEOUT = { timeout: 0 };
const nodeRedis = async (client: NodeRedis): Promise<Raw> => {
  await client.connect();
  return {
    client,
    get: (key) => client.get(key),
    send: (args) => client.sendCommand(args),
    floor: (args) => client.sendCommand(args, NO_CLIENT_TIMEOUT),
    evalSha: (key, args) => client.evalSha(RAW_SHA, { keys: [key], arguments: args }),
    close: () => client.quit(),
  };
};
const ioredis = async (client: Ioredis): Promise<Raw> => {
  if (client.status !== 'ready') await once(client, 'ready');
  return {
    client,
    get: (key) => client.get(key),
    send: (args) => client.call(args[0]!, ...args.slice(1)),
    floor: (args) => client.call(...(args as [string, ...string[]])),
    evalSha: (key, args) => client.evalsha(RAW_SHA, 1, key, ...args),
    close: () => client.quit(),
  };
};

const CLIENTS: [string, (url: string) => Promise<Raw>][] = [
  ['node-redis 6', (url) => nodeRedis(createClient({ url }))],
  ['node-redis 5', (url) => nodeRedis(createClient5({ url }) as unknown as NodeRedis)],
  ['node-redis 4', (url) => nodeRedis(createClient4({ url }) as unknown as NodeRedis)],
  ['ioredis 6', (url) => ioredis(new Ioredis(url))],
  ['ioredis 6 autopipe', (url) => ioredis(new Ioredis(url, { enableAutoPipelining: true }))],
  ['ioredis 5', (url) => ioredis(new Ioredis5(url) as unknown as Ioredis)],
  ['iovalkey', (url) => ioredis(new Iovalkey(url) as unknown as Ioredis)],
];

/** µs of process CPU per operation, `n` operations with IN_FLIGHT of them in flight at a time. */
async function cpuPerOp(n: number, op: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const worker = async () => {
    while (next < n) await op(next++);
  };
  const c0 = process.cpuUsage();
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / n;
}

export async function redisMicro(options: { filter: RegExp | null }): Promise<string> {
  const sk: Record<string, any> = await import(distModule('index.js'));
  const { loadForRequest } = await import(distModule('core/sessions.js'));
  const redis = await startRedis();
  const lines: string[] = [];
  const say = (line: string) => {
    console.log(line);
    lines.push(line);
  };
  say(`redis-micro: ${IN_FLIGHT} in flight, median of ${RUNS} runs of ${OPS} operations, µs of client CPU per operation (min–max)`);
  try {
    for (const [name, connect] of CLIENTS) {
      const wanted = (c: string) => !options.filter || options.filter.test(`${name}/${c}`);
      if (!CASES.some(wanted)) continue;
      const raw = await connect(redis.url);
      await raw.send(['FLUSHALL']);
      await raw.send(['SCRIPT', 'LOAD', RAW_SCRIPT]);
      const logger = { warn() {}, error() {}, info() {} };
      const store = new sk.RedisStore({ client: raw.client, prefix: PREFIX, logger });
      const sessions = sk.createSessions({ store, logger });
      const now = Date.now();
      const keys: string[] = [];
      const redisKeys: string[] = [];
      const rawKeys: string[] = [];
      const datas: Record<string, unknown>[] = [];
      const versions: number[] = [];
      const reqs: { headers: { cookie: string } }[] = [];
      for (let i = 0; i < 2 * SESSIONS; i++) {
        const s = await sessions.load({ headers: {} });
        s.set('count', 1);
        s.set('user', { id: i, name: `user-${i}` });
        const cookie = ((await sessions.commit(s)) as string).split(';')[0]!;
        const key = cookie.slice(cookie.indexOf('=') + 1);
        keys.push(key);
        reqs.push({ headers: { cookie: `csrftoken=abc; ${cookie}` } });
        const digest = createHash('sha256').update(key).digest('hex');
        redisKeys.push(`${PREFIX}{${digest}}`);
        rawKeys.push(`${PREFIX}raw:{${digest}}`);
        const found = await store.load(key);
        datas.push(found.data);
        versions.push(found.version);
      }
      const value = ((await raw.get(redisKeys[0]!)) as string) ?? '';
      const expiresAt = now + 14 * 86400_000;
      const ttl = String(expiresAt - now);
      const k = (i: number) => i & (SESSIONS - 1);
      const cases: [string, (i: number) => Promise<unknown>][] = [
        ['raw GET', (i) => raw.get(redisKeys[k(i)]!)],
        ['raw send GET', (i) => raw.send(['GET', redisKeys[k(i)]!])],
        ['floor GET', (i) => raw.floor(['GET', redisKeys[k(i)]!])],
        ['load', (i) => store.load(keys[k(i)]!)],
        ['raw EVALSHA', (i) => raw.evalSha(rawKeys[k(i)]!, [String(versions[k(i)]), String(now), ttl, value])],
        ['floor EVALSHA', (i) => raw.floor(['EVALSHA', RAW_SHA, '1', rawKeys[k(i)]!, String(versions[k(i)]), String(now), ttl, value])],
        [
          'update',
          async (i) => {
            const j = k(i);
            const r = await store.update({ key: keys[j]!, data: datas[j]!, expiresAt, expectedVersion: versions[j]!, now: Date.now() });
            if (r.status !== 'ok') throw new Error(`bench: update answered ${r.status}`);
            versions[j] = r.version;
          },
        ],
        [
          'session read',
          async (i) => {
            let s = loadForRequest(sessions, reqs[k(i)]!);
            if (s instanceof Promise) s = await s;
            s.get('count', 0);
            const r = sessions.commitResponse(s, { status: 200 });
            if (r instanceof Promise) await r;
          },
        ],
        [
          'session count',
          async (i) => {
            // sessions of their own: the update case tracks the versions of the first SESSIONS
            let s = loadForRequest(sessions, reqs[SESSIONS + k(i)]!);
            if (s instanceof Promise) s = await s;
            s.set('count', s.get('count', 0) + 1);
            const r = sessions.commitResponse(s, { status: 200 });
            if (r instanceof Promise) await r;
          },
        ],
      ];
      // Interleaved rounds (every case once per round), so a drift of the shared machine's speed
      // spreads over all cases instead of landing on one.
      const chosen = cases.filter(([label]) => wanted(label));
      for (const [, op] of chosen) await cpuPerOp(4000, op); // warm-up: JIT, the script cache
      const runs = chosen.map((): number[] => []);
      for (let round = 0; round < RUNS; round++) {
        for (const [c, [, op]] of chosen.entries()) runs[c]!.push(await cpuPerOp(OPS, op));
      }
      for (const [c, [label]] of chosen.entries()) {
        const r = runs[c]!;
        say(
          `${name.padEnd(18)} ${label.padEnd(14)} ${median(r).toFixed(2).padStart(6)} µs/op (${Math.min(...r).toFixed(2)}–${Math.max(...r).toFixed(2)})`,
        );
      }
      await sessions.close();
      await raw.close();
    }
  } finally {
    await stopAll();
  }
  return lines.join('\n');
}
