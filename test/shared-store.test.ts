// Two demo server processes on different ports sharing one Redis, then one PostgreSQL: a session
// created through one is read and changed through the other (issue 4).
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { demoDir, freePort, startDemo, type Demo } from './support/demo.js';
import { startRedis, stopAll } from './support/redis.js';
import { startPostgres, type RunningPostgres } from './support/postgres.js';

async function get(base: string, path: string, cookie?: string): Promise<{ body: string; setCookie: string | undefined }> {
  const res = await fetch(base + path, { headers: cookie ? { cookie } : {}, redirect: 'manual' });
  return { body: await res.text(), setCookie: res.headers.getSetCookie().find((c) => c.startsWith('sessionid=')) };
}

async function twoDemos(storeUrl: string): Promise<{ a: Demo; b: Demo; stop(): Promise<void> }> {
  const dirs = [demoDir(), demoDir()];
  const [a, b] = await Promise.all(
    dirs.map(async ({ dir }) => startDemo({ cwd: dir, port: await freePort(), env: { SESSION_STORE: storeUrl } })),
  );
  return {
    a: a!,
    b: b!,
    stop: async () => {
      await Promise.all([a!.stop(), b!.stop()]);
      for (const d of dirs) d.remove();
    },
  };
}

async function sharedSessionCase(storeUrl: string): Promise<void> {
  const { a, b, stop } = await twoDemos(storeUrl);
  try {
    assert.notEqual(a.url, b.url);
    const first = await get(a.url, '/count');
    assert.equal(first.body, 'Count: 1');
    const cookie = first.setCookie!.split(';')[0]!;
    assert.equal((await get(b.url, '/count', cookie)).body, 'Count: 2', 'the other process reads and changes it');
    assert.equal((await get(a.url, '/count', cookie)).body, 'Count: 3');
    await get(b.url, '/color/set?color=teal', cookie);
    assert.equal((await get(a.url, '/color', cookie)).body, 'Favorite color: teal');
    assert.equal((await get(b.url, '/count')).body, 'Count: 1', 'another visitor is another session');
  } finally {
    await stop();
  }
}

describe('two demo processes on one store', () => {
  after(() => stopAll());

  it('share sessions through one Redis', async () => {
    const redis = await startRedis();
    await sharedSessionCase(`redis://127.0.0.1:${redis.port}/0`);
  });

  it('share sessions through one PostgreSQL', async () => {
    let pg: RunningPostgres | undefined;
    try {
      pg = await startPostgres();
      await sharedSessionCase(pg.url);
    } finally {
      await pg?.destroy();
    }
  });
});
