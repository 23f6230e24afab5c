// The store conformance suite: a store's synchronous facet (its `load` and `update` answered at once) answers as load and update.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadForRequest } from '../core/sessions.js';
import { digestKey } from '../core/keys.js';
import { newSessionKey } from '../core/keys.js';
import { type SessionData, type SessionStore, syncFacetOf, type SyncFacet, type UpdateResult } from '../core/store.js';
import { META_KEY } from '../core/accounts.js';

import type { SuiteContext } from './store-suite-context.js';

export function twinsCases(x: SuiteContext): void {
  // Only a store that answers synchronously has the facet: on the others the whole section does not
  // apply, and is skipped once, with that reason, rather than case by case.
  const sync = { skip: x.options.synchronous ? false : 'this store answers asynchronously: it has no synchronous facet' };
  describe('synchronous twins (the synchronous facet: load and update answered at once)', sync, () => {
    /** The store's synchronous facet, or null when it has none (then the cases are skipped, unless x.options.synchronous says it must have one). */
    const twins = (): SyncFacet | null => {
      if (!x.serverSide()) return null;
      const facet = syncFacetOf(x.server());
      return facet !== undefined && typeof facet.load === 'function' && typeof facet.update === 'function' ? facet : null;
    };
    /** The same calls, awaited (`load`, `update`) or answered at once (the facet's). */
    type Calls = Pick<SessionStore, 'load' | 'update'>;
    const awaited = (): Calls => x.server();
    const atOnce = (): Calls => {
      const facet = twins()!;
      return {
        load: async (key, now) => facet.load(key, now ?? Date.now()),
        update: async (write) => facet.update(write),
      };
    };
    /** Runs `scenario` once with load/update and once with the twins, on fresh keys; the two transcripts must be equal. */
    const same = async (scenario: (calls: Calls, key: string) => Promise<unknown[]>): Promise<unknown[]> => {
      const viaAwait = await scenario(awaited(), newSessionKey());
      const viaTwins = await scenario(atOnce(), newSessionKey());
      assert.deepEqual(viaTwins, viaAwait, 'the synchronous load/update answer as load/update');
      return viaAwait;
    };
    /** A loaded record without what depends on the key. */
    const view = (found: Awaited<ReturnType<SessionStore['load']>>) =>
      found && { data: found.data, expiresAt: found.expiresAt, lastSeenAt: found.lastSeenAt ?? null };

    it('a store that answers synchronously has its synchronous facet, and the engine answers a request through it without a promise', async (ctx) => {
      if (!x.options.synchronous) return ctx.skip('this store answers asynchronously');
      const facet = twins();
      assert.ok(facet, 'the store has a synchronous load and update');
      const cookie = await x.saved((s) => s.set('n', 1));
      const s = loadForRequest(x.sessions, { headers: { cookie } });
      assert.ok(!(s instanceof Promise), 'the load took no promise');
      s.set('n', (s.get('n') as number) + 1);
      const committed = x.sessions.commitResponse(s, { status: 200 });
      assert.ok(!(committed instanceof Promise), 'the commit took no promise');
      assert.equal((await x.sessions.load(cookie)).get('n'), 2);
    });

    it('the synchronous load answers as load: absent, live, at and after its expiry', async (ctx) => {
      if (!twins()) return ctx.skip('the store has no synchronous facet');
      const store = x.server();
      const until = x.clock + 60_000;
      const transcript = await same(async (calls, key) => {
        const absent = await calls.load(key, x.clock);
        const v = await store.create({ key, data: { a: 1, nested: { list: [1, 'two', null] } }, expiresAt: until, now: x.clock - 5 });
        return [
          absent,
          v !== null,
          ...(await Promise.all([until - 1, until, until + 1].map(async (at) => view(await calls.load(key, at))))),
        ];
      });
      assert.deepEqual(transcript.slice(0, 2), [null, true]);
      assert.deepEqual((transcript[2] as { data: unknown }).data, { a: 1, nested: { list: [1, 'two', null] } });
      assert.deepEqual(transcript.slice(3), [null, null], 'expired at its expiry instant');
    });

    it('the synchronous update answers as update: ok with the next version, conflict on a stale one, missing once expired or deleted, never reviving', async (ctx) => {
      if (!twins()) return ctx.skip('the store has no synchronous facet');
      const store = x.server();
      const until = x.clock + 60_000;
      const later = x.clock + 120_000;
      const result = (r: UpdateResult, version: number | null) => (r.status === 'ok' ? { status: 'ok', isNext: r.version === version } : r);
      const transcript = await same(async (calls, key) => {
        const v1 = (await store.create({ key, data: { step: 1 }, expiresAt: until, now: x.clock }))!;
        const ok = await calls.update({ key, data: { step: 2 }, expiresAt: later, expectedVersion: v1, now: x.clock + 10 });
        const v2 = (await store.load(key, x.clock + 10))!.version;
        const afterOk = view(await calls.load(key, x.clock + 10));
        const stale = await calls.update({ key, data: { step: 'stale' }, expiresAt: later, expectedVersion: v1, now: x.clock + 20 });
        const afterStale = view(await calls.load(key, x.clock + 20));
        const ok2 = await calls.update({ key, data: { step: 3 }, expiresAt: later, expectedVersion: v2, now: x.clock + 30 });
        const v3 = (await store.load(key, x.clock + 30))!.version;
        const expired = await calls.update({ key, data: { step: 'late' }, expiresAt: later + 60_000, expectedVersion: v3, now: later });
        const notRevived = view(await calls.load(key, later));
        const stillThere = view(await calls.load(key, x.clock + 40));
        await store.delete(key);
        const deleted = await calls.update({ key, data: { step: 'gone' }, expiresAt: later, expectedVersion: v3, now: x.clock + 50 });
        return [
          result(ok, v2),
          afterOk,
          stale,
          afterStale,
          result(ok2, v3),
          v2 !== v1 && v3 !== v2,
          expired,
          notRevived,
          stillThere,
          deleted,
          await store.exists(key),
        ];
      });
      assert.deepEqual(transcript[0], { status: 'ok', isNext: true });
      assert.deepEqual((transcript[1] as { data: unknown }).data, { step: 2 });
      assert.equal((transcript[1] as { expiresAt: number }).expiresAt, later);
      assert.deepEqual(transcript[2], { status: 'conflict' });
      assert.deepEqual((transcript[3] as { data: unknown }).data, { step: 2 }, 'a conflict writes nothing');
      assert.deepEqual(transcript.slice(4, 8), [{ status: 'ok', isNext: true }, true, { status: 'missing' }, null]);
      assert.deepEqual((transcript[8] as { data: unknown }).data, { step: 3 });
      assert.deepEqual(transcript.slice(9), [{ status: 'missing' }, false]);
    });

    it('the synchronous update keeps the last-seen time and the user index as update does', async (ctx) => {
      if (!twins()) return ctx.skip('the store has no synchronous facet');
      if (x.options.noUserIndex || !x.server().listByUser || (x.server() as { noUserIndex?: string }).noUserIndex)
        return ctx.skip('the store has no user index');
      const store = x.server();
      const until = x.clock + 60_000;
      const user = `twin-user-${newSessionKey()}`;
      const signed = (data: SessionData, who: string) => ({ ...data, [META_KEY]: { since: x.clock, user: who } });
      const listed = async (who: string, key: string) => (await store.listByUser!(who, x.clock + 100)).map((u) => u.id === digestKey(key));
      const transcript = await same(async (calls, key) => {
        const v1 = (await store.create({ key, data: { a: 1 }, expiresAt: until, now: x.clock }))!;
        const before = await listed(user, key);
        await calls.update({ key, data: signed({ a: 2 }, user), expiresAt: until, expectedVersion: v1, now: x.clock + 10 });
        const v2 = (await store.load(key, x.clock + 10))!.version;
        const seen = (await calls.load(key, x.clock + 10))?.lastSeenAt ?? null;
        const signedIn = await listed(user, key);
        await calls.update({ key, data: signed({ a: 3 }, user), expiresAt: until, expectedVersion: v2, now: x.clock + 20 }); // the same user again
        const v3 = (await store.load(key, x.clock + 20))!.version;
        const same = await listed(user, key);
        await calls.update({ key, data: signed({ a: 4 }, `${user}-other`), expiresAt: until, expectedVersion: v3, now: x.clock + 30 });
        const v4 = (await store.load(key, x.clock + 30))!.version;
        const moved = [await listed(user, key), await listed(`${user}-other`, key)];
        await calls.update({ key, data: { a: 5 }, expiresAt: until, expectedVersion: v4, now: x.clock + 40 }); // signed out
        const out = [await listed(user, key), await listed(`${user}-other`, key)];
        const last = view(await calls.load(key, x.clock + 40));
        await store.delete(key);
        return [before, seen === x.clock + 10, signedIn, same, moved, out, last];
      });
      assert.deepEqual(transcript.slice(0, 6), [[], true, [true], [true], [[], [true]], [[], []]]);
      assert.deepEqual(transcript[6], { data: { a: 5 }, expiresAt: until, lastSeenAt: x.clock + 40 });
    });

    it('a corrupt record reads as empty through the synchronous load, logged, and the synchronous update overwrites it', async (ctx) => {
      if (!twins() || !x.t.corrupt) return ctx.skip('no synchronous facet, or no way to corrupt this store');
      const store = x.server();
      const until = x.clock + 60_000;
      const transcript = await same(async (calls, key) => {
        await store.create({ key, data: { x: 1 }, expiresAt: until, now: x.clock });
        await x.t.corrupt!(key);
        const before = x.logger.records.length;
        const found = await calls.load(key, x.clock);
        const logged = x.logger.records.length > before;
        const written = await calls.update({ key, data: { y: 2 }, expiresAt: until, expectedVersion: found!.version, now: x.clock });
        return [found?.data, logged, written.status, view(await calls.load(key, x.clock))?.data];
      });
      assert.deepEqual(transcript, [{}, true, 'ok', { y: 2 }]);
    });
  });
}
