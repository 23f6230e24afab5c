import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Redis as Ioredis } from 'ioredis';
import { Redis as Iovalkey } from 'iovalkey';
import { createClient } from 'redis';
import { createClient as createClient4 } from 'redis4';
import { promisify } from 'node:util';
import ts from 'typescript';
import { ConfigError, StoreUnavailableError } from '../core/errors.js';
import { newSessionKey } from '../core/keys.js';
import { recordingLogger } from '../testing/store-suite.js';
import { startRedis, stopAll, type RedisServer } from '../../test/support/redis.js';
import { MemoryStore } from './memory.js';
import { RedisStore } from './redis.js';

/** RedisStore with each client package it accepts (node-redis 4 to 6, ioredis, iovalkey) and what it refuses. */

const execFileAsync = promisify(execFile);
let standalone: Promise<RedisServer> | undefined;
const server = () => (standalone ??= startRedis());

after(stopAll);

describe('RedisStore clients', () => {
  let url: string;
  before(async () => {
    url = (await server()).url;
  });

  it('anything but a node-redis, ioredis or iovalkey client is a ConfigError that names what it accepts', () => {
    const pgLikePool = { query: async () => ({ rows: [] }), on() {} };
    const callbackClient = { sendCommand(_args: string[], _cb: () => void) {}, on() {} };
    for (const bad of [undefined, null, {}, 'redis://127.0.0.1:6379', pgLikePool, callbackClient, new MemoryStore()]) {
      assert.throws(
        () => new RedisStore({ client: bad as any }),
        (err: unknown) =>
          err instanceof ConfigError &&
          err.option === 'client' &&
          /node-redis 4 or later/.test(err.message) &&
          /ioredis/.test(err.message) &&
          /iovalkey/.test(err.message),
        `rejects ${JSON.stringify(bad)}`,
      );
    }
  });

  it('a node-redis 4 client in legacyMode is a ConfigError that says to drop legacyMode', () => {
    assert.throws(
      () => new RedisStore({ client: createClient4({ url, legacyMode: true }) as any }),
      (err: unknown) => err instanceof ConfigError && /legacyMode/.test(err.message),
    );
  });

  for (const [name, make] of [
    ['node-redis 4', () => createClient4({ url })],
    ['ioredis', () => new Ioredis(url, { lazyConnect: true })],
    ['iovalkey', () => new Iovalkey(url, { lazyConnect: true })],
  ] as const) {
    it(`a ${name} client without an error listener gets a logging one, so a client error cannot crash the process`, () => {
      const logger = recordingLogger();
      const bare = make();
      assert.equal(bare.listenerCount('error'), 0);
      new RedisStore({ client: bare, logger });
      assert.equal(bare.listenerCount('error'), 1);
      bare.emit('error', new Error('boom'));
      assert.equal(logger.records.at(-1)?.level, 'error');
    });
  }

  it('an ioredis client made with lazyConnect connects on the first request, as ioredis itself would', async () => {
    const lazy = new Ioredis(url, { lazyConnect: true });
    try {
      const store = new RedisStore({ client: lazy, prefix: 'lazy:' });
      const key = newSessionKey();
      const now = Date.now();
      assert.equal(await store.create({ key, data: { a: 1 }, expiresAt: now + 60_000, now }), 1);
      assert.deepEqual((await store.load(key, now))!.data, { a: 1 });
    } finally {
      lazy.disconnect();
    }
  });

  it('a closed ioredis client gives StoreUnavailableError at once', async () => {
    const closed = new Ioredis(url);
    await once(closed, 'ready');
    await closed.quit();
    const store = new RedisStore({ client: closed, logger: recordingLogger() });
    const started = Date.now();
    await assert.rejects(store.load(newSessionKey()), StoreUnavailableError);
    assert.ok(Date.now() - started < 500);
  });

  it("a node-redis client's own queue timeout costs no AbortSignal per store command, unless the user chose one shorter than the store's", async () => {
    const timeout = AbortSignal.timeout;
    let made = 0;
    AbortSignal.timeout = (ms: number) => {
      made++;
      return timeout.call(AbortSignal, ms);
    };
    const plain = createClient({ url });
    const shorter = createClient({ url, commandOptions: { timeout: 200 } });
    await Promise.all([plain.connect(), shorter.connect()]);
    try {
      for (const [c, perCommand] of [
        [plain, 0],
        [shorter, 1],
      ] as const) {
        made = 0;
        await c.get('sessionkit-test:nothing');
        assert.equal(made, 1, 'node-redis bounds the wait of each command with an AbortSignal of its own');
        made = 0;
        const store = new RedisStore({ client: c, prefix: 'timer:', timeout: 2000 });
        const key = newSessionKey();
        const now = Date.now();
        assert.equal(await store.create({ key, data: { a: 1 }, expiresAt: now + 60_000, now }), 1);
        assert.equal((await store.load(key, now))!.version, 1);
        assert.deepEqual(await store.update({ key, data: { a: 2 }, expiresAt: now + 60_000, expectedVersion: 1, now }), {
          status: 'ok',
          version: 2,
        });
        assert.equal(made, 3 * perCommand);
      }
    } finally {
      AbortSignal.timeout = timeout;
      await Promise.all([plain.close(), shorter.close()]);
    }
  });

  it('RedisStore.fromUrl builds node-redis when installed, else ioredis, else iovalkey, else says what to install', async () => {
    const worker = join(import.meta.dirname, '../../test/support/redis-from-url.ts');
    const { stdout } = await execFileAsync(process.execPath, ['--import', 'tsx', worker, `${url}/0`], { timeout: 30_000 });
    const [all, noNodeRedis, onlyValkey, none] = JSON.parse(stdout.trim().split('\n').at(-1)!);
    assert.deepEqual(all, { loaded: ['redis'], data: { via: 'fromUrl' } });
    assert.deepEqual(noNodeRedis, { loaded: ['ioredis'], data: { via: 'fromUrl' } });
    assert.deepEqual(onlyValkey, { loaded: ['iovalkey'], data: { via: 'fromUrl' } });
    assert.equal(none.code, 'CONFIG');
    assert.match(none.error, /npm install redis \(or ioredis, or iovalkey\)/);
  });

  it('the public type declarations import no Redis client package', () => {
    const root = join(import.meta.dirname, '../..');
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    const entries = new Set<string>();
    const collect = (value: unknown): void => {
      if (typeof value === 'string' && value.endsWith('.d.ts')) entries.add(join(root, value));
      else if (value && typeof value === 'object') Object.values(value).forEach(collect);
    };
    collect(pkg.exports);
    collect(pkg.types);
    assert.ok(entries.size > 0, 'package.json names type files');
    const seen = new Set<string>();
    const imported = new Set<string>();
    const visit = (file: string): void => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const { fileName } of ts.preProcessFile(readFileSync(file, 'utf8'), true, true).importedFiles) {
        if (!fileName.startsWith('.')) imported.add(fileName);
        else visit(join(dirname(file), fileName).replace(/\.([mc]?)js$/, '.d.$1ts'));
      }
    };
    for (const entry of entries) visit(entry);
    assert.ok(
      [...seen].some((f) => /redis\.d\.[cm]?ts$/.test(f)),
      "RedisStore's declarations were reached",
    );
    const clients = [...imported].filter((m) => /^(redis|ioredis|iovalkey|@redis\/|@ioredis\/|@iovalkey\/)/.test(m));
    assert.deepEqual(clients, []);
  });
});
