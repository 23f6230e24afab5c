import type { DeviceBound } from '../device-bound.js';
import { type AnyStore, type ClientSideStore, type SessionStore, type SyncFacet, syncFacetOf } from '../store.js';
import { checkValue } from '../codec.js';
import { SessionError, SessionInterruptedError, StoreUnavailableError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Observer } from '../observe.js';
import type { ResolvedOptions } from '../options.js';
import type { StoredSession } from '../store.js';
import type { SessionData } from '../codec.js';
import { MAX_DEPTH, ownData, withinDepth } from '../codec.js';
import { lost, type Session, type SessionState } from '../session.js';

/** How many times a conflicting commit is merged and retried before SessionInterruptedError. */
export const MAX_COMMIT_ATTEMPTS = 100;
/** The most session keys whose last touch a process remembers (older ones are dropped first). */
export const MAX_TOUCHES_KEPT = 10_000;
/** The most bytes of `name=value` browsers keep for one cookie (RFC 6265 §6.1). */
export const MAX_COOKIE_BYTES = 4096;
/** How many fresh keys are tried when a new key is already taken. */
export const MAX_CREATE_ATTEMPTS = 100;
/** The longest pause, in milliseconds, between two attempts of a conflicting commit (backoff with full jitter). */
export const MAX_BACKOFF_MS = 20;
/**
 * A commit queued behind others of the same key in this process gives up with StoreUnavailableError,
 * before writing anything, when the queue made no progress for the store's timeout plus this many
 * milliseconds, or as soon as the commit before it failed for the store: so a request waits at most
 * about the store's timeout plus a second, whatever queue it joined, and a 503 applied nothing.
 */
export const QUEUE_GRACE_MS = 1000;
/** The store timeout assumed when a store does not say (`SessionStore.timeout`). */
export const DEFAULT_STORE_TIMEOUT_MS = 5000;

/**
 * The commits of one session key under way in this process: they run one after another (so 500
 * parallel requests of one visitor do not exhaust their retries against each other), each
 * starting from what the one before it wrote.
 */
export interface InFlight {
  /** Settles when the last queued commit is done. */
  tail: Promise<void> | null;
  /** When a commit of this key last finished (Date.now()). */
  progressAt: number;
  /** The last commit that finished failed for the store: the ones queued behind it give up at once. */
  down: boolean;
  /** What the last successful commit wrote. */
  last: { json: string; version: number } | null;
}

/**
 * What the parts of the engine share: the resolved options, the store (and its synchronous facet,
 * when it has one), the observers, and the per-process bookkeeping of commits and touches.
 * Made once by createSessions; internal.
 */
export interface Core {
  readonly o: ResolvedOptions;
  readonly store: AnyStore;
  /** The store when it keeps sessions on the server (wrapped by the observer when one is on), else null. */
  readonly server: SessionStore | null;
  /** The store when it is the cookie store, else null. */
  readonly client: ClientSideStore | null;
  readonly maxAge: number;
  readonly expireAtBrowserClose: boolean;
  readonly logger: Logger;
  /** The store has a touch method but no user index to keep it for (a CachedStore over DjangoStore). */
  readonly noTouch: boolean;
  /** When this process last touched each session key (within touchInterval), so a burst of parallel reads touches once. */
  readonly touchedAt: Map<string, number>;
  /** The store's synchronous `load`, when its facet has one the engine may use (see syncTwins). */
  readonly loadSync: SyncFacet['load'] | undefined;
  /** The store's synchronous `update`, likewise. */
  readonly updateSync: SyncFacet['update'] | undefined;
  /** Commits in progress per session key: commits of one key in this process run one after another. */
  readonly inFlight: Map<string, InFlight>;
  /** The store keeps session keys in clear (DjangoStore, as Django does): a tombstone may name the new key. */
  readonly keysInClear: boolean;
  /** Events (`onEvent`) and OpenTelemetry; null when neither can be observed (core/observe.ts). */
  readonly obs: Observer | null;
  /** Device Bound Session Credentials (`deviceBound`), or null when off. */
  readonly bound: DeviceBound | null;
  now(): number;
  /** A Session over `state`, talking to this engine. */
  session(state: SessionState): Session<any>;
}

/** Values handed out by reads and changed in place (`get('cart').push(x)`) are saved too. */
export function detectNestedChanges(s: SessionState): void {
  if (s.snapshots === null) return;
  for (const [key, before] of s.snapshots) {
    const value = Object.hasOwn(s.data, key) ? s.data[key] : undefined;
    if (value !== undefined) checkValue(key, value);
    if (JSON.stringify(value) !== before) {
      s.modified = true;
      (s.ops ??= []).push(value === undefined ? { kind: 'delete', key } : { kind: 'set', key, value });
    }
  }
  s.snapshots = null;
}

/**
 * The store's synchronous `load` and `update` (its SyncFacet), read once, at createSessions. Each
 * is used only beside the very method it answers for, so a subclass or a wrapper (a Proxy that
 * counts, fails or logs `load` or `update`) that replaces the async method is still heard.
 */
export function syncTwins(store: SessionStore): Pick<Core, 'loadSync' | 'updateSync'> {
  const facet = syncFacetOf(store);
  if (facet === undefined) return { loadSync: undefined, updateSync: undefined };
  return {
    loadSync: store.load === facet.answersFor.load ? facet.load : undefined,
    updateSync: store.update === facet.answersFor.update ? facet.update : undefined,
  };
}

/** Marks the session lost for this request and gives the error to throw. */
export function interrupted(s: SessionState, why: 'revoked' | 'replaced'): SessionInterruptedError {
  lost(s, why);
  return new SessionInterruptedError();
}

export function rethrowUnavailable(err: unknown): never {
  if (err instanceof SessionError) throw err;
  throw new StoreUnavailableError(`the session store failed: ${(err as Error)?.message ?? String(err)}`, { cause: err });
}

export function noop(): void {}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const encoder = new TextEncoder();
/** UTF-8 length, without node's Buffer. */
export function byteLength(text: string): number {
  let ascii = true;
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 0x7f) {
      ascii = false;
      break;
    }
  }
  return ascii ? text.length : encoder.encode(text).length;
}

/** Stored data as a session holds it; data nested too deeply reads as corrupt (empty), so later saves never fail on it. */
export function storedData(c: Core, found: StoredSession): SessionData {
  return usable(c, found.data, 'store') ? ownData(found.data) : ownData({});
}

export function usable(c: Core, data: SessionData, where: string): boolean {
  if (withinDepth(data)) return true;
  c.logger.warn(`session data nests deeper than ${MAX_DEPTH} levels; reading it as an empty session`, { where });
  return false;
}
