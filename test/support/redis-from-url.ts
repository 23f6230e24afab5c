// RedisStore.fromUrl in a process where Redis client packages can be hidden, one more in each
// round (none, then redis, then ioredis, then iovalkey), to show which one it falls back to.
// Prints one JSON array: per round, the client packages newly loaded and what the store did.
import Module, { createRequire } from 'node:module';

const hidden = new Set<string>();
// Module._load, not _resolveFilename: a repeated require() of one name skips resolution.
const internals = Module as unknown as { _load: (request: string, ...rest: unknown[]) => unknown };
const load = internals._load;
internals._load = function (this: unknown, request: string, ...rest: unknown[]) {
  if (hidden.has(request)) throw Object.assign(new Error(`Cannot find module '${request}'`), { code: 'MODULE_NOT_FOUND' });
  return load.call(this, request, ...rest);
};

const { RedisStore } = await import('../../src/stores/redis.js');
const { newSessionKey } = await import('../../src/core/keys.js');
const cache = createRequire(import.meta.url).cache;
const packagesLoaded = () =>
  new Set(['redis', 'ioredis', 'iovalkey'].filter((name) => Object.keys(cache).some((path) => path.includes(`/node_modules/${name}/`))));

const rounds: unknown[] = [];
for (const hide of [[], ['redis'], ['ioredis'], ['iovalkey']]) {
  for (const name of hide) hidden.add(name);
  const before = packagesLoaded();
  try {
    const store = RedisStore.fromUrl(process.argv[2]!, { timeout: 1000 });
    const key = newSessionKey();
    const now = Date.now();
    await store.create({ key, data: { via: 'fromUrl' }, expiresAt: now + 60_000, now });
    const data = (await store.load(key, now))?.data;
    await store.delete(key);
    await store.close();
    rounds.push({ loaded: [...packagesLoaded()].filter((p) => !before.has(p)), data });
  } catch (err) {
    rounds.push({ error: (err as Error).message, code: (err as { code?: string }).code });
  }
}
console.log(JSON.stringify(rounds));
