// The server-side store as the engine sees it when something observes it: each operation timed
// (`sessionkit.store.duration`, attribute `sessionkit.operation`) and each failure reported
// (`store_error`), once, where the engine calls the store. Every other member passes through.
import { type SessionStore, SYNC, type SyncFacet, syncFacetOf } from './store.js';
import type { Instruments } from './telemetry.js';

/** What the wrapper needs of the Observer. */
export interface StoreWatcher {
  readonly instruments: Instruments;
  readonly events: object | null;
  storeFailed(operation: string, err: unknown, subject: unknown, data: unknown): void;
}

/** The operations that are timed and whose failures are reported; anything else passes through untouched. */
const WATCHED = new Set(['load', 'create', 'update', 'delete', 'touch', 'exists', 'listByUser', 'revoke', 'clearExpired']);
type Method = (...args: unknown[]) => unknown;

/**
 * A plain object with the store's members: the watched operations wrapped, the rest bound to the
 * store or read through; and the store's synchronous facet, when it has one, watched too (its
 * `load` and `update` reported under those names).
 */
export function watchStore(store: SessionStore, watcher: StoreWatcher): SessionStore {
  const out = {} as SessionStore & Record<string, unknown> & { [SYNC]?: SyncFacet };
  for (const name of memberNames(store)) {
    const value: unknown = Reflect.get(store, name);
    if (typeof value !== 'function') {
      Object.defineProperty(out, name, { get: () => Reflect.get(store, name), enumerable: true });
    } else if (WATCHED.has(name)) out[name] = watchAsync(store, value as Method, name, watcher);
    else out[name] = (value as Method).bind(store);
  }
  const facet = syncFacetOf(store);
  if (facet !== undefined) {
    // The engine uses the facet's `load` or `update` only beside the very method it answers for
    // (a wrapper that replaced `load` must be heard): keep that rule by answering for this
    // object's method only where the store's own is still that method.
    out[SYNC] = {
      load: watchSync(facet, facet.load as Method, 'load', watcher) as SyncFacet['load'],
      update: watchSync(facet, facet.update as Method, 'update', watcher) as SyncFacet['update'],
      answersFor: {
        load: store.load === facet.answersFor.load ? out.load : undefined,
        update: store.update === facet.answersFor.update ? out.update : undefined,
      },
    };
  }
  return out;
}

function watchAsync(store: SessionStore, fn: Method, operation: string, watcher: StoreWatcher): Method {
  const attributes = { 'sessionkit.operation': operation };
  return (...args: unknown[]) => {
    const duration = watcher.instruments.duration;
    if (duration === null && watcher.events === null) return fn.apply(store, args);
    const start = performance.now();
    let result: Promise<unknown>;
    try {
      result = fn.apply(store, args) as Promise<unknown>;
    } catch (err) {
      duration?.record((performance.now() - start) / 1000, attributes);
      watcher.storeFailed(operation, err, args[0], args[1]);
      throw err;
    }
    return Promise.resolve(result).then(
      (value) => {
        duration?.record((performance.now() - start) / 1000, attributes);
        return value;
      },
      (err: unknown) => {
        duration?.record((performance.now() - start) / 1000, attributes);
        watcher.storeFailed(operation, err, args[0], args[1]);
        throw err;
      },
    );
  };
}

function watchSync(facet: SyncFacet, fn: Method, operation: string, watcher: StoreWatcher): Method {
  const attributes = { 'sessionkit.operation': operation };
  return (...args: unknown[]) => {
    const duration = watcher.instruments.duration;
    if (duration === null && watcher.events === null) return fn.apply(facet, args);
    const start = duration === null ? 0 : performance.now();
    try {
      return fn.apply(facet, args);
    } catch (err) {
      watcher.storeFailed(operation, err, args[0], args[1]);
      throw err;
    } finally {
      duration?.record((performance.now() - start) / 1000, attributes);
    }
  };
}

/** Every property name on the store and its prototypes (Object.prototype's excepted). */
function memberNames(store: object): Set<string> {
  const names = new Set<string>();
  for (let o: object | null = store; o !== null && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    for (const name of Object.getOwnPropertyNames(o)) if (name !== 'constructor') names.add(name);
  }
  return names;
}
