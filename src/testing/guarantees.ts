// The guarantees that hold in every combination, as a matrix: every competing operation (revoke,
// flush, rotation, login, touch, commit) run by hand just before each write that an in-flight
// request makes (commit, save, cycleKey, login, flush). Deterministic: the interleaving is chosen
// by counting the in-flight request's store writes, never by racing.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Sessions } from '../core/sessions.js';
import type { Session } from '../core/session.js';
import { SessionInterruptedError } from '../core/errors.js';
import { type SessionStore, SYNC } from '../core/store.js';
import { digestKey } from '../core/keys.js';

type Data = Record<string, any>;

/** What the matrix needs of the store suite it runs in. */
export interface GuaranteeContext {
  /** The store under test (server-side). */
  store(): SessionStore;
  /** A second view of the same data (another process), or the store itself. */
  peer(): SessionStore;
  /** Sessions over `store`, with the suite's clock and logger. */
  make(extra: Record<string, unknown>, store?: SessionStore): Sessions<Data>;
  /** Moves the suite's clock forward. */
  advance(ms: number): void;
  /** The store cannot find sessions by user (DjangoStore): revokes by id are left out. */
  noUserIndex(): boolean;
  /** Whether the store keeps sessions on the server (the matrix is skipped for the cookie store). */
  serverSide(): boolean;
  /** Known when the suite is defined: the store keeps sessions in the cookie (the matrix is left out). */
  clientSide: boolean;
  /** Known when the suite is defined: the store cannot revoke by id (the revoke rows are left out). */
  noRevoke: boolean;
}

const WRITES = new Set(['create', 'update', 'delete', 'touch', 'revoke']);

/**
 * The store, seen by the in-flight request: before its `at`-th write (counting from 0) the
 * competitor runs to completion. Its synchronous facet is hidden, so every write is seen.
 */
function gated(store: SessionStore, at: number, competitor: () => Promise<void>): { store: SessionStore; writes: () => number } {
  let writes = 0;
  const proxy = new Proxy(store, {
    get(target, name) {
      if (name === SYNC) return undefined;
      const value = Reflect.get(target, name, target);
      if (typeof value !== 'function') return value;
      if (typeof name === 'string' && WRITES.has(name)) {
        return async (...args: unknown[]) => {
          if (writes++ === at) await competitor();
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      return (value as (...a: unknown[]) => unknown).bind(target);
    },
  });
  return { store: proxy, writes: () => writes };
}

const cookieOf = (setCookie: string | null | undefined): string | null =>
  setCookie && !/Max-Age=0/.test(setCookie) ? setCookie.split(';')[0]! : null;

type Competitor = 'revoke' | 'flush' | 'cycleKey' | 'login' | 'touch' | 'commit';
type InFlight = 'commit' | 'save' | 'cycleKey' | 'login' | 'flush';

const COMPETITORS: Competitor[] = ['revoke', 'flush', 'cycleKey', 'login', 'touch', 'commit'];
const IN_FLIGHT: InFlight[] = ['commit', 'save', 'cycleKey', 'login', 'flush'];

/** What one interleaving left behind. */
interface Outcome {
  inFlightError: unknown;
  inFlightCookie: string | null;
  inFlightSetCookie: string | null;
  inFlightSession: Session<Data> | null;
  competitorError: unknown;
  competitorCookie: string | null;
  competitorRan: boolean;
}

export function describeGuarantees(ctx: GuaranteeContext): void {
  let run = 0;

  const matrix = { skip: ctx.clientSide ? 'the cookie store keeps no records to race on' : false };
  describe('guarantees in every combination (competing operation x in-flight request x each write)', matrix, () => {
    /**
     * One case: a session signed in as a fresh user with a cart; request R loads it; the
     * competitor runs just before R's `at`-th write; R finishes (its op, then its commit).
     */
    async function interleave(
      competitor: Competitor,
      inFlight: InFlight,
      at: number,
    ): Promise<Outcome & { user: string; base: string; writes: number }> {
      const user = `matrix-${process.pid}-${run++}`;
      const other = ctx.make({ touchInterval: 1 }, ctx.peer());
      const setup = ctx.make({ touchInterval: 1 });
      const first = await setup.load();
      first.set('cart', ['book']);
      await first.login(user);
      const base = cookieOf(await setup.commit(first))!;
      ctx.advance(2000); // past touchInterval, so an unmodified request touches

      const out: Outcome = {
        inFlightError: null,
        inFlightCookie: null,
        inFlightSetCookie: null,
        inFlightSession: null,
        competitorError: null,
        competitorCookie: null,
        competitorRan: false,
      };
      const compete = async () => {
        out.competitorRan = true;
        try {
          const c = await other.load(base);
          if (competitor === 'revoke') {
            await other.revokeSession(digestKey(base.slice(base.indexOf('=') + 1)));
            return;
          }
          if (competitor === 'flush') await c.flush();
          else if (competitor === 'cycleKey') await c.cycleKey();
          else if (competitor === 'login') await c.login(user);
          else if (competitor === 'touch') c.get('cart');
          else c.modify('n', (n: number | undefined) => (n ?? 0) + 1);
          out.competitorCookie = cookieOf(await other.commit(c));
        } catch (err) {
          out.competitorError = err;
        }
      };
      const g = gated(ctx.store(), at, compete);
      const sessions = ctx.make({ touchInterval: 1 }, g.store);
      const r = await sessions.load(base);
      out.inFlightSession = r;
      try {
        if (inFlight === 'commit') r.set('mine', true);
        else if (inFlight === 'save') {
          r.modify('n', (n: number | undefined) => (n ?? 0) + 1);
          await r.save();
        } else if (inFlight === 'cycleKey') await r.cycleKey();
        else if (inFlight === 'login') await r.login(user);
        else await r.flush();
      } catch (err) {
        out.inFlightError = err;
      }
      try {
        const response = await sessions.commitResponse(r, { status: 200 });
        out.inFlightSetCookie = response.setCookie;
        out.inFlightCookie = cookieOf(response.setCookie);
      } catch (err) {
        out.inFlightError ??= err;
      }
      return { ...out, user, base, writes: g.writes() };
    }

    /** The data a cookie loads now (a fresh request), or null when it names no session. */
    async function dataOf(cookie: string | null): Promise<Data | null> {
      if (cookie === null) return null;
      const s = await ctx.make({}).load(cookie);
      return s.key === null ? null : s.toJSON();
    }

    for (const competitor of COMPETITORS) {
      const rows = { skip: competitor === 'revoke' && ctx.noRevoke ? 'this store cannot revoke by id' : false };
      describe(`${competitor} as the competitor`, rows, () => {
        for (const inFlight of IN_FLIGHT) {
          it(`${competitor} before each write of an in-flight ${inFlight}`, async (t) => {
            if (!ctx.serverSide()) return t.skip('the cookie store has no records to race on');
            if (competitor === 'revoke' && ctx.noUserIndex()) return t.skip('this store cannot revoke by id');
            // As many interleavings as the in-flight request makes writes (and one after them all).
            const dry = await interleave('touch', inFlight, Number.MAX_SAFE_INTEGER);
            for (let at = 0; at <= dry.writes; at++) {
              const o = await interleave(competitor, inFlight, at);
              const where = `${competitor} before write ${at} of ${inFlight}`;
              if (o.inFlightError !== null) {
                assert.ok(o.inFlightError instanceof SessionInterruptedError, `${where}: ${String(o.inFlightError)}`);
              }
              if (o.competitorError !== null) {
                assert.ok(o.competitorError instanceof SessionInterruptedError, `${where}: ${String(o.competitorError)}`);
              }
              const cookies = [...new Set([o.base, o.inFlightCookie, o.competitorCookie])];
              const live = (await Promise.all(cookies.map(dataOf))).filter((d): d is Data => d !== null && 'cart' in d);
              const loggedOut = (competitor === 'revoke' || competitor === 'flush') && o.competitorRan && o.competitorError === null;
              if (inFlight === 'flush' || loggedOut) {
                // A logout or revoke always wins: nothing of the session is reachable, by any cookie or by user.
                assert.deepEqual(live, [], `${where}: a logged-out session came back`);
                if (!ctx.noUserIndex()) {
                  const left = await ctx.make({}).listUserSessions(o.user);
                  assert.deepEqual(left, [], `${where}: the user still has sessions`);
                }
                continue;
              }
              // Otherwise exactly one session lives on, with the cart, and no cookie names a second one.
              assert.equal(live.length, 1, `${where}: ${live.length} sessions live`);
              if (!ctx.noUserIndex()) {
                const left = await ctx.make({}).listUserSessions(o.user);
                assert.equal(left.length, 1, `${where}: the user has ${left.length} sessions`);
              }
              const rotated = competitor === 'cycleKey' || competitor === 'login';
              if (rotated && o.competitorError === null && o.competitorRan) {
                // The competitor replaced the key first: the in-flight request changes nothing and sets no cookie.
                assert.ok(o.inFlightError instanceof SessionInterruptedError || inFlight === 'commit', where);
                assert.equal(o.inFlightSetCookie, null, `${where}: a replaced key's response set a cookie`);
                assert.equal(live[0]!.mine, undefined, where);
              }
              if (competitor === 'commit' || competitor === 'touch') {
                assert.equal(o.inFlightError, null, `${where}: ${String(o.inFlightError)}`);
                if (inFlight === 'commit') assert.equal(live[0]!.mine, true, `${where}: the in-flight change was lost`);
                const counted = competitor === 'commit' && o.competitorRan && o.competitorError === null;
                const expected = (counted ? 1 : 0) + (inFlight === 'save' ? 1 : 0);
                assert.equal(live[0]!.n ?? 0, expected, `${where}: counter`);
                if (inFlight === 'save') assert.equal(o.inFlightSession!.get('n'), expected, `${where}: save() reads the stored record`);
              }
            }
          });
        }
      });
    }

    it('a request with a key that login replaced moments ago sees an empty session, cannot write, and sets no cookie', async (t) => {
      if (!ctx.serverSide()) return t.skip('the cookie store has no records');
      const sessions = ctx.make({});
      const s = await sessions.load();
      s.set('cart', ['book']);
      await s.login(`replaced-${run++}`);
      const old = cookieOf(await sessions.commit(s))!;
      const again = await sessions.load(old);
      await again.login(again.userId!);
      const fresh = cookieOf(await sessions.commit(again));
      assert.ok(fresh);
      const late = await sessions.load(old);
      assert.equal(late.get('cart'), undefined);
      assert.equal((await sessions.commitResponse(late)).setCookie, null, 'no cookie for a replaced key');
      const writer = await sessions.load(old);
      writer.set('x', 1);
      await assert.rejects(async () => sessions.commitResponse(writer), SessionInterruptedError);
      await assert.rejects(writer.cycleKey(), SessionInterruptedError);
      assert.deepEqual((await dataOf(fresh))?.cart, ['book'], 'the new session is intact');
      // Remembered for 10 seconds, then an ordinary unknown key: a fresh session under a new key.
      ctx.advance(11_000);
      const later = await sessions.load(old);
      later.set('y', 1);
      const made = cookieOf(await sessions.commit(later));
      assert.ok(made && made !== old);
    });

    it('login of another user starts from an empty session; of the same user it keeps the data', async (t) => {
      if (!ctx.serverSide()) return t.skip('the cookie store has no records');
      const sessions = ctx.make({});
      const s = await sessions.load();
      s.set('cart', ['book']);
      await s.login(`alice-${run}`);
      const alice = cookieOf(await sessions.commit(s))!;
      const same = await sessions.load(alice);
      await same.login(`alice-${run}`);
      assert.deepEqual(same.get('cart'), ['book']);
      const sameCookie = cookieOf(await sessions.commit(same))!;
      const bob = await sessions.load(sameCookie);
      bob.set('flag', 1);
      await bob.login(`bob-${run++}`);
      assert.equal(bob.get('cart'), undefined);
      assert.equal(bob.get('flag'), undefined, 'data set before the login of another user is dropped too');
      const bobCookie = cookieOf(await sessions.commit(bob))!;
      const loaded = await dataOf(bobCookie);
      assert.equal(loaded?.cart, undefined);
    });

    it('save() gives exact limits: modify, save, then get reads the stored count', async (t) => {
      if (!ctx.serverSide()) return t.skip('the cookie store has no records');
      const sessions = ctx.make({});
      const s = await sessions.load();
      s.set('attempts', 0);
      const cookie = cookieOf(await sessions.commit(s))!;
      const requests = await Promise.all(Array.from({ length: 8 }, () => ctx.make({}, ctx.peer()).load(cookie)));
      const seen: number[] = [];
      for (const r of requests) {
        r.modify('attempts', (n: number | undefined) => (n ?? 0) + 1);
        await r.save();
        seen.push(r.get('attempts') as number);
      }
      assert.deepEqual(seen, [1, 2, 3, 4, 5, 6, 7, 8]);
      assert.equal((await dataOf(cookie))?.attempts, 8);
    });

    it('save() on a session without a key creates it, and the response carries its cookie', async (t) => {
      if (!ctx.serverSide()) return t.skip('the cookie store has no records');
      const sessions = ctx.make({});
      const s = await sessions.load();
      s.set('x', 1);
      await s.save();
      assert.ok(s.key);
      const cookie = cookieOf(await sessions.commit(s));
      assert.equal(cookie?.split('=')[1], s.key);
      assert.equal((await dataOf(cookie))?.x, 1);
    });
  });
}
