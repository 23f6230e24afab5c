import { makeSessions } from '../../src/core/sessions.js';
import { StoreUnavailableError } from '../../src/core/errors.js';
import { recordingLogger } from '../../src/testing/store-suite.js';
import { CachedStore } from '../../src/stores/cached.js';
import { MemoryStore } from '../../src/stores/memory.js';
import type { SessionStore, StoreCreate, StoredSession, StoreStats, StoreUpdate, UpdateResult } from '../../src/core/store.js';

/** CachedStore over two in-memory stores that tests can make fail, with a clock moved by hand. */
/** A cache that can be made to fail on reads and/or writes, and counts calls. */
export class FlakyStore implements SessionStore {
  failReads = false;
  failWrites = false;
  loads = 0;
  /** Every call, answered or failed. */
  calls = 0;
  constructor(readonly inner: SessionStore) {}
  #check(kind: 'read' | 'write'): void {
    this.calls++;
    if (kind === 'read' ? this.failReads : this.failWrites) throw new StoreUnavailableError(`flaky ${kind}`);
  }
  async load(key: string, now?: number): Promise<StoredSession | null> {
    this.#check('read');
    this.loads++;
    return this.inner.load(key, now);
  }
  async create(write: StoreCreate): Promise<number | null> {
    this.#check('write');
    return this.inner.create(write);
  }
  async update(write: StoreUpdate): Promise<UpdateResult> {
    this.#check('write');
    return this.inner.update(write);
  }
  async delete(key: string): Promise<void> {
    this.#check('write');
    return this.inner.delete(key);
  }
  async exists(key: string): Promise<boolean> {
    this.#check('read');
    return this.inner.exists(key);
  }
  async clearExpired(now?: number): Promise<number> {
    this.#check('write');
    return this.inner.clearExpired(now);
  }
  async stats(now?: number): Promise<StoreStats> {
    return this.inner.stats(now);
  }
  async revoke(id: string): Promise<boolean> {
    this.#check('write');
    return this.inner.revoke!(id);
  }
  async touch(key: string, expiresAt: number, now: number): Promise<boolean> {
    this.#check('write');
    return this.inner.touch!(key, expiresAt, now);
  }
  async listByUser(userId: string, now: number) {
    this.#check('read');
    return this.inner.listByUser!(userId, now);
  }
  async close(): Promise<void> {}
}

/** A clock the test moves by hand: the breaker's retries and log lines are timed by it. */
export function manualClock(start = 1_700_000_000_000) {
  let t = start;
  const clock = () => t;
  clock.advance = (ms: number) => {
    t += ms;
  };
  return clock;
}

/** Lets a probe the breaker started in the background settle (the test stores answer within a few turns). */
export const settle = () => new Promise<void>((r) => setImmediate(r));

export function setup() {
  const logger = recordingLogger();
  const clock = manualClock();
  const cache = new FlakyStore(new MemoryStore({ logger }));
  const durable = new FlakyStore(new MemoryStore({ logger }));
  const store = new CachedStore({ cache, store: durable, logger, clock });
  const sessions = makeSessions<Record<string, any>>({ store, logger }, () => {
    throw new Error('unreachable');
  });
  const save = async (cookie: string | undefined, fill: Record<string, unknown>) => {
    const s = await sessions.load(cookie);
    s.update(fill);
    return (await sessions.commit(s))!.split(';')[0]!;
  };
  return { logger, clock, cache, durable, store, sessions, save };
}
