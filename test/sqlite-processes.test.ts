import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { newSessionKey } from '../src/core/keys.js';
import { createSessions, StoreUnavailableError } from '../src/index.js';
import { SqliteStore } from '../src/stores/sqlite.js';
import { watchEventLoop } from './support/event-loop.js';
import { fillExpired, scratchDir } from './support/sqlite-fill.js';

const run = promisify(execFile);
const worker = join(import.meta.dirname, 'support', 'sqlite-worker.ts');

describe('SqliteStore shared by several processes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sessionkit-procs-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('parallel modify appends and different keys from three processes all survive', async () => {
    const path = join(dir, 's.sqlite3');
    const sessions = createSessions({ store: new SqliteStore({ path }) });
    const s = await sessions.load();
    s.set('cart', []);
    const cookie = (await sessions.commit(s))!.split(';')[0]!;
    const labels = ['p1', 'p2', 'p3'];
    await Promise.all(labels.map((label) => run(process.execPath, ['--import', 'tsx', worker, path, cookie, label, '20'])));
    const after = await sessions.load(cookie);
    const cart = after.get('cart') as string[];
    assert.equal(cart.length, 60, 'every append from every process survives');
    for (const label of labels) {
      for (let i = 0; i < 20; i++) {
        assert.ok(cart.includes(`${label}-${i}`));
        assert.equal(after.get(`${label}-${i}`), i);
      }
    }
    await sessions.close();
  });
});

/**
 * A lock wait may hold the event loop for SQLite's own 10 ms at a time, never for the lock's
 * whole duration (the old behaviour: the whole busy timeout, or the whole of another process's
 * DELETE). The bound leaves room for a machine busy with other work.
 */
const MAX_HOLD_MS = 150;

/** Waits (polling) until `check` holds: for events in another process, never for time to pass. */
async function until(check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Starts a process that holds the file's write lock until `release()`. */
async function holdLock(path: string): Promise<{ release(): Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'support', 'sqlite-lock-holder.ts'), path], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('locked') && resolve());
    child.once('exit', (code) => reject(new Error(`the lock holder exited with ${code}`)));
  });
  return {
    async release() {
      child.stdin!.end('release\n');
      await exited;
    },
  };
}

describe('SqliteStore waiting for another process', () => {
  const dir = scratchDir('sessionkit-locks-');
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("a write waiting for another process's lock leaves the event loop running, and succeeds once the lock is released", async () => {
    const path = join(dir, 'wait.sqlite3');
    const store = new SqliteStore({ path });
    const lock = await holdLock(path);
    const watch = watchEventLoop();
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 5);
    let settled = false;
    const write = store.create({ key: newSessionKey(), data: { waited: true }, expiresAt: Date.now() + 60_000 }).finally(() => {
      settled = true;
    });
    try {
      await until(() => ticks >= 40); // the event loop keeps running while the write waits
      assert.equal(settled, false, 'the write is still waiting for the lock');
    } finally {
      clearInterval(ticker);
      await lock.release();
    }
    assert.equal(await write, 1);
    const { heldMs } = watch.stop();
    assert.ok(heldMs < MAX_HOLD_MS, `the event loop was held for ${heldMs.toFixed(1)} ms at once`);
    await store.close();
  });

  it('a lock held longer than busyTimeout: StoreUnavailableError naming busyTimeout, after about busyTimeout, with the event loop running', async () => {
    const path = join(dir, 'timeout.sqlite3');
    const store = new SqliteStore({ path, busyTimeout: 300 });
    const lock = await holdLock(path);
    const watch = watchEventLoop();
    const started = Date.now();
    try {
      await assert.rejects(
        store.create({ key: newSessionKey(), data: { a: 1 }, expiresAt: Date.now() + 60_000 }),
        (e: unknown) => e instanceof StoreUnavailableError && /busyTimeout/.test(e.message) && /300 ms/.test(e.message),
      );
    } finally {
      await lock.release();
    }
    const waited = Date.now() - started;
    const { heldMs } = watch.stop();
    assert.ok(waited >= 300 && waited < 3000, `gave up after ${waited} ms`);
    assert.ok(heldMs < MAX_HOLD_MS, `the event loop was held for ${heldMs.toFixed(1)} ms at once`);
    await store.close();
  });

  it('sessionkit clearsessions in another process holds the write lock one batch at a time: writes here go on and never hold the event loop', async (t) => {
    const path = join(dir, 'clear.sqlite3');
    const store = new SqliteStore({ path });
    const now = Date.now();
    fillExpired(path, 100_000, now);
    const cli = spawn(
      process.execPath,
      ['--import', 'tsx', join(import.meta.dirname, '..', 'src', 'cli', 'main.ts'), 'clearsessions', '--store', `sqlite:${path}`],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let output = '';
    cli.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    let exitCode: number | null = null;
    const exited = new Promise<void>((resolve) => cli.once('exit', (code) => resolve(void (exitCode = code))));
    let running = true;
    void exited.then(() => (running = false));
    // Write until the CLI is done, starting once it is under way.
    const watch = watchEventLoop();
    let writes = 0;
    let slowest = 0;
    while (running) {
      const t0 = performance.now();
      await store.create({ key: newSessionKey(), data: { n: writes }, expiresAt: now + 60_000, now });
      slowest = Math.max(slowest, performance.now() - t0);
      writes++;
      await new Promise((r) => setTimeout(r, 1)); // requests arriving, about one a millisecond
    }
    const { heldMs, delayMs } = watch.stop();
    t.diagnostic(
      `${writes} writes during clearsessions, slowest ${slowest.toFixed(0)} ms; event loop held at most ${heldMs.toFixed(1)} ms (monitorEventLoopDelay max ${delayMs.toFixed(1)} ms)`,
    );
    assert.equal(exitCode, 0);
    assert.equal(output.trim(), 'removed 100000 expired sessions');
    assert.ok(writes > 10, `${writes} writes went on meanwhile`);
    assert.equal((await store.stats(now)).count, writes);
    assert.ok(heldMs < MAX_HOLD_MS, `the event loop was held for ${heldMs.toFixed(1)} ms at once`);
    await store.close();
  });
});
