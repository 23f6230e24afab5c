import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeStore } from '../testing/store-suite.js';
import { MemoryStore } from './memory.js';

describeStore('MemoryStore', {
  setup(logger) {
    const store = new MemoryStore({ logger });
    return {
      store,
      corrupt: async (key) => store.putRaw(key, '{not json', Date.now() + 3600_000),
    };
  },
});

describe('MemoryStore eviction', () => {
  const t0 = 1_700_000_000_000;
  const HOUR = 3600_000;

  it('expired sessions are evicted by later writes, without anyone calling clearExpired', async () => {
    const store = new MemoryStore();
    for (let i = 0; i < 2000; i++) await store.create(`old-${i}`, { n: i }, t0 + HOUR, t0);
    // two hours later, the next 2000 visitors' writes evict every session that expired meanwhile
    for (let i = 0; i < 2000; i++) await store.create(`new-${i}`, { n: i }, t0 + 3 * HOUR, t0 + 2 * HOUR);
    const { count, expired } = await store.stats(t0 + 2 * HOUR);
    assert.deepEqual({ count, expired }, { count: 2000, expired: 0 });
    assert.equal(await store.exists('old-0'), false);
    assert.equal((await store.load('new-1999', t0 + 2 * HOUR))?.data.n, 1999);
  });

  it('a store whose sessions keep expiring stays bounded by the live ones', async () => {
    const store = new MemoryStore();
    let now = t0;
    const sizes: number[] = [];
    for (let generation = 0; generation < 50; generation++, now += HOUR) {
      // 500 new visitors an hour, each session living 30 minutes; updates sweep too
      for (let i = 0; i < 500; i++) {
        const key = `g${generation}-${i}`;
        const version = await store.create(key, { i }, now + HOUR / 2, now);
        await store.update(key, { i, again: true }, now + HOUR / 2, version!, now);
      }
      sizes.push((await store.stats(now)).count);
    }
    // never more than the eviction threshold plus one hour's sessions, however long it runs
    assert.ok(Math.max(...sizes) <= 1500, `rows per hour: ${sizes.join(' ')}`);
  });
});
