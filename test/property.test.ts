/**
 * Property-based tests (fast-check) through a real node:http server (sessionkit/node) on every
 * store that runs in this process, and on Redis and PostgreSQL: random cookie headers, random session data
 * (inherited names, deep nesting, any string), random cookie options and expiries. Whatever
 * comes in, the server answers no 5xx but a clear 503 when the store is down, never adopts a
 * key the client chose, and what a request committed is what the next one loads.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { createClient } from 'redis';
import { withSession } from '../src/adapters/node.js';
import { MAX_DEPTH } from '../src/core/codec.js';
import {
  ConfigError,
  CookieStore,
  createSessions,
  MemoryStore,
  PostgresStore,
  RedisStore,
  SessionDataError,
  SqliteStore,
  StoreUnavailableError,
  type AnyStore,
  type Session,
  type SessionsOptions,
} from '../src/index.js';
import pg from 'pg';
import { startPostgres, type RunningPostgres } from './support/postgres.js';
import { startRedis, stopAll } from './support/redis.js';

const SECRET = 'pR0p3rty-t3st-s3cr3t/9f8e7d6c5b4a39281706f5e4d3c2b1a0';
const quiet = { warn() {}, error() {} };
const RUNS = Number(process.env.PROPERTY_RUNS ?? 60);

/** Names every object inherits, and a few more that have bitten JavaScript code. */
const INHERITED = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'valueOf',
  'hasOwnProperty',
  'isPrototypeOf',
  'propertyIsEnumerable',
  'toLocaleString',
  '__defineGetter__',
  '__lookupSetter__',
];

type Op =
  | { op: 'set'; key: string; value: unknown }
  | { op: 'delete'; key: string }
  | { op: 'append'; key: string; item: number }
  | { op: 'expiry'; value: number | string | null }
  | { op: 'flush' }
  | { op: 'cycle' };

interface Script {
  ops: Op[];
  /** The store fails every call during this request. */
  down?: boolean;
}

/** A store whose every call can be made to fail, as a store that cannot be reached fails. */
function switchable(inner: AnyStore): { store: AnyStore; setDown(down: boolean): void } {
  let down = false;
  const methods = new Set(['load', 'create', 'update', 'delete', 'exists', 'touch', 'listByUser', 'revoke']);
  const store = new Proxy(inner, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function' || !methods.has(String(prop))) return value;
      return (...args: unknown[]) => {
        if (down) return Promise.reject(new StoreUnavailableError('the test switched the store off'));
        return value.apply(target, args);
      };
    },
  });
  return { store, setDown: (d) => void (down = d) };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => void (text += c));
    req.on('end', () => resolve(text));
    req.on('error', reject);
  });
}

async function apply(session: Session<Record<string, any>>, ops: Op[]): Promise<void> {
  for (const op of ops) {
    switch (op.op) {
      case 'set':
        session.set(op.key, op.value);
        break;
      case 'delete':
        session.delete(op.key);
        break;
      case 'append':
        session.modify(op.key, (list) => [...(Array.isArray(list) ? list : []), op.item]);
        break;
      case 'expiry':
        session.setExpiry(typeof op.value === 'string' ? new Date(op.value) : op.value);
        break;
      case 'flush':
        await session.flush();
        break;
      case 'cycle':
        await session.cycleKey();
        break;
    }
  }
}

interface Server {
  url: string;
  close(): Promise<void>;
  setDown(down: boolean): void;
}

async function serve(options: SessionsOptions<AnyStore> & { store: AnyStore }, down?: (d: boolean) => void): Promise<Server> {
  const sessions = createSessions<Record<string, any>>({ logger: quiet, ...options });
  const server = createServer((req, res) => {
    readBody(req).then((body) => {
      const script: Script = body ? JSON.parse(body) : { ops: [] };
      down?.(script.down === true);
      withSession(sessions, async (_req, res2, session) => {
        try {
          await apply(session, script.ops);
        } catch (err) {
          if (err instanceof SessionDataError) {
            res2.statusCode = 422;
            res2.end(`refused: ${err.message}`);
            return;
          }
          throw err;
        }
        res2.setHeader('Content-Type', 'application/json');
        res2.end(JSON.stringify({ data: Object.fromEntries(session.entries()) }));
      })(req, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    setDown: (d) => down?.(d),
  };
}

interface Reply {
  status: number;
  body: string;
  /** The session cookie's value when one was set ('' for a deletion), else undefined. */
  cookie: string | undefined;
  setCookie: string | undefined;
}

async function send(base: string, script: Script, cookieHeader?: string, name = 'sessionid'): Promise<Reply> {
  const res = await fetch(base, {
    method: 'POST',
    body: JSON.stringify(script),
    headers: cookieHeader === undefined ? {} : { cookie: cookieHeader },
  });
  const setCookie = res.headers.getSetCookie().find((c) => c.startsWith(`${name}=`));
  const cookie = setCookie === undefined ? undefined : setCookie.slice(name.length + 1).split(';')[0];
  return { status: res.status, body: await res.text(), cookie, setCookie };
}

/** What the client keeps between requests, as a browser does. */
const nextCookie = (held: string | undefined, r: Reply) => (r.cookie === undefined ? held : r.cookie === '' ? undefined : r.cookie);

// ---------------------------------------------------------------------------------------------
// Arbitraries

const asciiText = fc.string({
  unit: fc.constantFrom(...Array.from({ length: 95 }, (_, i) => String.fromCharCode(0x20 + i))),
  maxLength: 60,
});
const keyShaped = fc.stringMatching(/^[a-z0-9]{32}$/);
const tokenShaped = fc
  .tuple(fc.base64String({ maxLength: 40 }), fc.stringMatching(/^[0-9A-Za-z]{6}$/), fc.stringMatching(/^[A-Za-z0-9_-]{43}$/))
  .map(([p, t, s]) => `${p.replace(/=/g, '')}:${t}:${s}`);

/** Cookie headers a client may send: anything printable, our name with made-up values, duplicates, junk encodings. */
const cookieHeaderArb = fc.oneof(
  asciiText,
  fc
    .oneof(
      keyShaped,
      tokenShaped,
      asciiText.filter((v) => !v.includes(';')),
    )
    .map((v) => `sessionid=${v}`),
  fc.tuple(keyShaped, keyShaped).map(([a, b]) => `sessionid=${a}; other=1; sessionid=${b}`),
  fc.constantFrom('sessionid=', 'sessionid=%zz%', 'sessionid="quoted-value-here"', `sessionid=${'x'.repeat(5000)}`, ';;;=;=', 'sessionid'),
);

const keyArb = fc.oneof(fc.constantFrom(...INHERITED), fc.string({ maxLength: 12 }), fc.constantFrom('a', 'b', 'cart'));

/** JSON values, small enough for a cookie, with every kind of string. */
const valueArb = fc.jsonValue({ maxDepth: 3, depthSize: 'small' }).filter((v) => JSON.stringify(v).length < 300);

function nested(depth: number): unknown {
  let v: unknown = 'bottom';
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { [INHERITED[i % INHERITED.length]!]: v };
  return v;
}
const deepArb = fc.integer({ min: MAX_DEPTH - 3, max: MAX_DEPTH + 3 }).map((d) => ({ depth: d, value: nested(d) }));

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant('set' as const), key: keyArb, value: valueArb }) },
  { weight: 1, arbitrary: deepArb.map(({ value }) => ({ op: 'set' as const, key: 'deep', value })) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), key: keyArb }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('append' as const), key: keyArb, item: fc.integer() }) },
);

/** setExpiry values: in range, and far out of it. */
const expiryArb = fc.oneof(
  fc.integer({ min: -10, max: 10 ** 6 }),
  fc.constantFrom(0, 1e308, -1e308, 8.64e12, 10_000_000_000, 10_000_000_001),
  fc.date({ min: new Date(-1e13), max: new Date(8.64e15), noInvalidDate: true }).map((d) => d.toISOString()),
  fc.constant(null),
);

// ---------------------------------------------------------------------------------------------
// The model: what the data should be after a request's ops (JSON semantics, own keys only)

/** The data after `ops`; a refused set stops the request there (what came before it is still saved, as the status is below 500). */
function model(start: Map<string, string>, ops: Op[]): { data: Map<string, string>; refused: boolean } {
  const data = new Map(start);
  for (const op of ops) {
    if (op.op === 'set') {
      if (depthOf(op.value) > MAX_DEPTH) return { data, refused: true };
      data.set(op.key, JSON.stringify(op.value));
    } else if (op.op === 'delete') data.delete(op.key);
    else if (op.op === 'append') {
      const current = data.has(op.key) ? JSON.parse(data.get(op.key)!) : undefined;
      data.set(op.key, JSON.stringify([...(Array.isArray(current) ? current : []), op.item]));
    }
  }
  return { data, refused: false };
}

function depthOf(v: unknown): number {
  if (v === null || typeof v !== 'object') return 0;
  let d = 0;
  for (const x of Object.values(v)) d = Math.max(d, depthOf(x));
  return d + 1;
}

const canonical = (json: string) => {
  const data = (JSON.parse(json) as { data: Record<string, unknown> }).data;
  return new Map(Object.keys(data).map((k) => [k, JSON.stringify(data[k])]));
};

// ---------------------------------------------------------------------------------------------

interface Target {
  name: string;
  serverSide: boolean;
  make(): Promise<{ store: AnyStore; done?: () => Promise<void> }>;
}

const dir = mkdtempSync(join(tmpdir(), 'sessionkit-property-'));
let redisUrl: string | undefined;
let postgres: RunningPostgres | undefined;

const targets: Target[] = [
  { name: 'MemoryStore', serverSide: true, make: async () => ({ store: new MemoryStore({ logger: quiet }) }) },
  {
    name: 'SqliteStore',
    serverSide: true,
    make: async () => ({ store: new SqliteStore({ path: join(dir, `p${Math.random()}.sqlite3`), logger: quiet }) }),
  },
  { name: 'CookieStore', serverSide: false, make: async () => ({ store: new CookieStore({ secret: SECRET, logger: quiet }) }) },
  {
    name: 'RedisStore',
    serverSide: true,
    async make() {
      redisUrl ??= (await startRedis()).url;
      const client = createClient({ url: redisUrl });
      await client.connect();
      return {
        store: new RedisStore({ client, prefix: `p${Math.random().toString(36).slice(2)}:`, logger: quiet }),
        done: async () => void (await client.quit()),
      };
    },
  },
  {
    name: 'PostgresStore',
    serverSide: true,
    async make() {
      postgres ??= await startPostgres();
      const pool = new pg.Pool({ connectionString: postgres.url, max: 4 });
      return { store: new PostgresStore({ pool, logger: quiet }), done: () => pool.end() };
    },
  },
];

after(async () => {
  await stopAll();
  await postgres?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

for (const target of targets) {
  describe(`properties through a real server: ${target.name}`, () => {
    let server: Server;
    let done: (() => Promise<void>) | undefined;
    before(async () => {
      const made = await target.make();
      done = made.done;
      const sw = target.serverSide ? switchable(made.store) : null;
      server = await serve({ store: sw?.store ?? made.store }, sw ? (d) => sw.setDown(d) : undefined);
    });
    after(async () => {
      await server.close();
      await done?.();
    });

    it('any cookie header: no 5xx, and a key the client chose is never adopted', async () => {
      await fc.assert(
        fc.asyncProperty(cookieHeaderArb, fc.array(opArb, { maxLength: 3 }), async (header, ops) => {
          const r = await send(server.url, { ops }, header);
          assert.ok(r.status < 500, `status ${r.status}: ${r.body}`);
          if (r.cookie) {
            assert.ok(!header.includes(`sessionid=${r.cookie}`) || r.cookie.length === 0, 'the client-chosen value came back');
            if (target.serverSide) assert.match(r.cookie, /^[a-z0-9]{32}$/);
          }
        }),
        { numRuns: RUNS },
      );
    });

    it('what a request committed is what the next one loads; too-deep values are refused before anything is written', async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 5 }), fc.array(opArb, { maxLength: 4 }), async (first, second) => {
          let cookie: string | undefined;
          let expected = new Map<string, string>();
          for (const ops of [first, second]) {
            const m = model(expected, ops);
            const r = await send(server.url, { ops }, cookie === undefined ? undefined : `sessionid=${cookie}`);
            if (m.refused) {
              assert.equal(r.status, 422, r.body);
              assert.match(r.body, /deeper than/);
            } else {
              assert.equal(r.status, 200, r.body);
              assert.deepEqual(canonical(r.body), m.data);
            }
            cookie = nextCookie(cookie, r);
            expected = m.data;
            if (expected.size > 0) assert.ok(cookie, 'a session with data has a cookie');
          }
          if (cookie === undefined) return;
          const back = await send(server.url, { ops: [] }, `sessionid=${cookie}`);
          assert.equal(back.status, 200);
          assert.deepEqual(canonical(back.body), expected);
        }),
        { numRuns: RUNS },
      );
    });

    it('random expiries: refused with a SessionDataError or saved with a valid Max-Age and Expires, never a 5xx', async () => {
      await fc.assert(
        fc.asyncProperty(expiryArb, async (value) => {
          const r = await send(server.url, {
            ops: [
              { op: 'set', key: 'x', value: 1 },
              { op: 'expiry', value },
            ],
          });
          if (r.status === 422) {
            assert.match(r.body, /setExpiry/);
            return;
          }
          assert.equal(r.status, 200, r.body);
          const c = r.setCookie!;
          const maxAge = /Max-Age=(\d+)/.exec(c)?.[1];
          const expires = /Expires=([^;]+)/.exec(c)?.[1];
          if (maxAge === undefined) assert.equal(expires, undefined, c);
          else {
            assert.ok(Number.isSafeInteger(Number(maxAge)), c);
            assert.ok(!Number.isNaN(Date.parse(expires!)), c);
            assert.match(expires!, /^\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT$/);
          }
        }),
        { numRuns: RUNS },
      );
    });

    if (target.serverSide) {
      it('a store that is down answers a clear 503 for a request with a cookie, and loses nothing', async () => {
        const saved = await send(server.url, { ops: [{ op: 'set', key: 'kept', value: 'yes' }] });
        const cookie = `sessionid=${saved.cookie}`;
        await fc.assert(
          fc.asyncProperty(fc.array(opArb, { maxLength: 3 }), async (ops) => {
            const r = await send(server.url, { ops, down: true }, cookie);
            assert.equal(r.status, 503, r.body);
            assert.match(r.body, /^Service Unavailable: the session store cannot be reached/);
            assert.equal(r.cookie, undefined);
          }),
          { numRuns: Math.ceil(RUNS / 3) },
        );
        const back = await send(server.url, { ops: [] }, cookie);
        assert.deepEqual(canonical(back.body), new Map([['kept', '"yes"']]));
      });
    }
  });
}

describe('properties of the options', () => {
  const domainArb = fc.oneof(
    fc.domain(),
    fc.domain().map((d) => `.${d}`),
    fc.constantFrom('..', '.', '-', 'a..b', '.example.com.', 'exa mple.com', 'a;b', ''),
    asciiText,
  );
  const optionsArb = fc.record(
    {
      name: fc.oneof(fc.constantFrom('sessionid', 'sid', '__Host-s'), asciiText),
      maxAge: fc.oneof(fc.integer({ min: -5, max: 10 ** 7 }), fc.constantFrom(0, 1.5, 1e308, 8.64e12, 10_000_000_000)),
      domain: domainArb,
      path: fc.oneof(
        fc.constant('/'),
        asciiText.map((p) => `/${p}`),
        fc.constantFrom('/é', 'app', '/a;b', ''),
      ),
      secure: fc.boolean(),
      httpOnly: fc.boolean(),
      sameSite: fc.constantFrom('lax', 'strict', 'none', false, 'sometimes'),
      partitioned: fc.boolean(),
    },
    { requiredKeys: [] },
  );

  it('random cookie options: a ConfigError at createSessions, or every request works and the cookie comes back', async () => {
    await fc.assert(
      fc.asyncProperty(
        optionsArb,
        fc.oneof(fc.constant(undefined), fc.constantFrom(0, -1, 1.5), fc.integer({ min: 64, max: 1 << 20 })),
        async (cookie, maxSize) => {
          let server: Server;
          try {
            server = await serve({ store: new MemoryStore({ logger: quiet }), cookie: cookie as never, maxSize });
          } catch (err) {
            assert.ok(err instanceof ConfigError, String(err));
            return;
          }
          try {
            const name = cookie.name ?? 'sessionid';
            const r = await send(server.url, { ops: [{ op: 'set', key: 'n', value: 7 }] }, undefined, name);
            assert.equal(r.status, 200, r.body);
            assert.ok(r.cookie, `no ${name} cookie`);
            const back = await send(server.url, { ops: [] }, `${name}=${r.cookie}`, name);
            assert.deepEqual(canonical(back.body), new Map([['n', '7']]));
          } finally {
            await server.close();
          }
        },
      ),
      { numRuns: RUNS * 2 },
    );
  });
});
