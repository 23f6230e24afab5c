/**
 * `req.session` in sessionkit/express: the request's Session, seen through a Proxy that also
 * speaks express-session, so that passport (0.6, 0.7), connect-flash and other middleware written
 * for express-session keep working unchanged:
 * - every name that is not part of the Session API reads and writes session data as a property
 *   (`req.session.passport`, `req.session.returnTo = url`, `delete req.session.cart`);
 * - `regenerate(cb)`, `save(cb)`, `destroy(cb)`, `reload(cb)`, `touch()`, `resetMaxAge()` and
 *   `cookie` (`maxAge`, `expires`) behave as express-session's;
 * - the Session API (`get`, `set`, `flash`, `login`, `userId`, …) works on the same object.
 */
import { isReservedKey } from '../core/migrate.js';
import { SessionDataError, SessionInterruptedError } from '../core/errors.js';
import { Session, SESSION_OF } from '../core/session.js';
import type { Sessions } from '../core/sessions.js';

/** What express-session's `req.session` has beyond the Session API (see ExpressSession). */
export interface ExpressSessionMethods {
  /** express-session's `regenerate`: the old record deleted, no data, a new key at the next save. */
  regenerate(callback?: (err?: unknown) => void): unknown;
  /** express-session's `save`: calls back once the session's changes are safe; the commit before the response headers writes them. */
  save(callback?: (err?: unknown) => void): unknown;
  /** express-session's `destroy`: `flush()` (logout). */
  destroy(callback?: (err?: unknown) => void): unknown;
  /** express-session's `reload`: the data as the store has it now. */
  reload(callback?: (err?: unknown) => void): unknown;
  /** express-session's `touch`: the expiry is renewed (and the cookie re-sent) at the commit. */
  touch(): unknown;
  /** express-session's `resetMaxAge`: as `touch()`. */
  resetMaxAge(): unknown;
  /** express-session's `cookie`: `maxAge` (milliseconds) and `expires` read and set the session's expiry. */
  readonly cookie: ExpressSessionCookie;
}

/** express-session's `req.session.cookie`, over `setExpiry`: null means a browser-session cookie. */
export interface ExpressSessionCookie {
  maxAge: number | null;
  expires: Date | null | false;
  readonly originalMaxAge: number | null;
}

/** `req.session` in sessionkit/express: a Session that also has express-session's methods. */
export type ExpressSession<Data extends Record<string, any>> = Session<Data> & ExpressSessionMethods;

/** What a view is a Proxy of: the request's session and what express-session's methods need. */
interface Holder {
  session: Session<any>;
  sessions: Sessions<any>;
  req: { session?: unknown };
  /** After `regenerate`, the data this (replaced) view held, as express-session's old object keeps it. */
  detached: Record<string, unknown> | null;
}

/** The get trap answers these with the view's Session and its holder (shared method wrappers and core functions find them this way). */
const SESSION = SESSION_OF;
const HOLDER: unique symbol = Symbol('sessionkit.viewHolder');
/** Marks connect-flash's view of the `flash` data key, so that assigning it back changes nothing. */
const FLASH_BAG: unique symbol = Symbol('sessionkit.flashBag');

type AnyFn = (...args: any[]) => any;

function sessionOf(self: unknown): Session<any> {
  const s = (self as { [SESSION]?: Session<any> } | null | undefined)?.[SESSION];
  return s ?? (self as Session<any>);
}

function holderOf(self: unknown): Holder {
  const h = (self as { [HOLDER]?: Holder } | null | undefined)?.[HOLDER];
  if (h === undefined) throw new TypeError('sessionkit: call this method on req.session');
  return h;
}

/** Calls `callback` later (never inside the caller's stack, as express-session's store callbacks), or gives a Promise without one. */
function settle(done: Promise<void>, callback: ((err?: unknown) => void) | undefined, self: unknown): unknown {
  if (typeof callback !== 'function') return done;
  done.then(
    () => callback(),
    (err: unknown) => callback(err),
  );
  return self;
}

/** The view over the same session, made for `req.session`. */
export function sessionView<Data extends Record<string, any>>(
  sessions: Sessions<Data>,
  session: Session<Data>,
  req: { session?: unknown },
): ExpressSession<Data> {
  const holder: Holder = { session, sessions, req, detached: null };
  return new Proxy(holder, handler) as unknown as ExpressSession<Data>;
}

/** The data keys the view shows as properties: all but the keys sessionkit reserves. */
function dataKeys(h: Holder): string[] {
  if (h.detached !== null) return Object.keys(h.detached);
  const out: string[] = [];
  for (const k of h.session.keys()) if (!isReservedKey(k)) out.push(k);
  return out;
}

const compat: Record<keyof ExpressSessionMethods, AnyFn | null> = {
  regenerate(this: unknown, callback?: (err?: unknown) => void) {
    const h = holderOf(this);
    const all = h.session.toJSON();
    const before = Object.create(null) as Record<string, unknown>;
    for (const k of dataKeys(h)) before[k] = all[k];
    const done = h.session.flush().then(() => {
      // express-session hands out a new object: the old one keeps the old data (passport's keepSessionInfo merges it back)
      h.detached = before;
      h.req.session = sessionView(h.sessions, h.session, h.req);
    });
    return settle(done, callback, this);
  },
  save(this: unknown, callback?: (err?: unknown) => void) {
    const session = sessionOf(this);
    const own: unknown = Reflect.get(session, 'save');
    // The commit before the response headers writes the session (redirects included), so a
    // callback that then answers the request finds it saved; a Session with save() writes now.
    const done = typeof own === 'function' ? Promise.resolve().then(() => own.call(session)) : Promise.resolve();
    return settle(done, callback, this);
  },
  destroy(this: unknown, callback?: (err?: unknown) => void) {
    return settle(sessionOf(this).flush(), callback, this);
  },
  reload(this: unknown, callback?: (err?: unknown) => void) {
    const h = holderOf(this);
    const session = h.session;
    const key = session.key;
    const done =
      key === null
        ? Promise.resolve()
        : h.sessions.load(`${h.sessions.cookieName}=${key}`).then((fresh) => {
            if (fresh.key === null) throw new SessionInterruptedError();
            const data = fresh.toJSON();
            if (JSON.stringify(data) === JSON.stringify(session.toJSON())) return;
            session.clear();
            session.update(data);
          });
    return settle(done, callback, this);
  },
  touch(this: unknown) {
    sessionOf(this).modified = true;
    return this;
  },
  resetMaxAge(this: unknown) {
    sessionOf(this).modified = true;
    return this;
  },
  cookie: null,
};

class CookieView implements ExpressSessionCookie {
  readonly #session: Session<any>;
  constructor(session: Session<any>) {
    this.#session = session;
  }
  get maxAge(): number | null {
    const s = this.#session;
    return s.expireAtBrowserClose ? null : s.expiryDate.getTime() - Date.now();
  }
  set maxAge(ms: number | null) {
    this.#session.setExpiry(ms === null ? 0 : Math.max(1, Math.round(ms / 1000)));
  }
  get originalMaxAge(): number | null {
    return this.maxAge;
  }
  get expires(): Date | null {
    const s = this.#session;
    return s.expireAtBrowserClose ? null : s.expiryDate;
  }
  set expires(value: Date | null | false) {
    this.#session.setExpiry(value instanceof Date ? value : 0);
  }
  toJSON() {
    return { originalMaxAge: this.originalMaxAge, expires: this.expires };
  }
}

/** Session API members: a getter (read on the Session) or a method (a shared wrapper that calls it on the Session). */
const members = new Map<string, AnyFn | 'getter'>();
for (const name of Object.getOwnPropertyNames(Session.prototype)) {
  if (name === 'constructor') continue;
  const d = Object.getOwnPropertyDescriptor(Session.prototype, name)!;
  if (typeof d.value === 'function') {
    const fn = d.value as AnyFn;
    members.set(name, function (this: unknown) {
      return Reflect.apply(fn, sessionOf(this), arguments);
    });
  } else members.set(name, 'getter');
}
for (const [name, fn] of Object.entries(compat)) members.set(name, fn ?? 'getter');
/** Session API members that are plain settable state. */
const SETTABLE = new Set(['modified']);

function refuse(name: string, why: string): never {
  throw new SessionDataError(`req.session.${name} ${why}`, name);
}

const handler: ProxyHandler<Holder> = {
  get(h, name) {
    if (typeof name !== 'string') {
      if (name === SESSION) return h.session;
      if (name === HOLDER) return h;
      return Object.hasOwn(h, name) ? Reflect.get(h, name) : Reflect.get(h.session, name, h.session);
    }
    const member = members.get(name);
    if (member !== undefined) {
      if (name === 'flash') return flashBag(h);
      if (member !== 'getter') return member;
      if (name === 'cookie') return new CookieView(h.session);
      return Reflect.get(Session.prototype, name, h.session);
    }
    if (h.detached !== null) return h.detached[name];
    // not a thenable (await, Promise.resolve), and its class as a Session's
    if (name === 'then' || isReservedKey(name)) return undefined;
    if (name === 'constructor') return Session;
    return h.session.get(name);
  },
  set(h, name, value) {
    if (typeof name !== 'string') {
      Reflect.set(h, name, value);
      return true;
    }
    if (h.detached !== null) {
      h.detached[name] = value;
      return true;
    }
    if (name === 'flash') {
      // connect-flash: `req.session.flash = req.session.flash || {}` assigns its own view back
      if (typeof value !== 'function' || (value as { [FLASH_BAG]?: true })[FLASH_BAG] !== true) setData(h, name, value);
      return true;
    }
    if (SETTABLE.has(name)) {
      Reflect.set(h.session, name, value);
      return true;
    }
    if (members.has(name)) refuse(name, 'is part of the Session API; store data under this name with req.session.set(name, value)');
    if (isReservedKey(name)) refuse(name, 'is a name sessionkit reserves for itself; choose another name');
    setData(h, name, value);
    return true;
  },
  deleteProperty(h, name) {
    if (typeof name !== 'string') return Reflect.deleteProperty(h, name);
    if (h.detached !== null) return delete h.detached[name];
    if ((members.has(name) && name !== 'flash') || isReservedKey(name)) return false;
    h.session.delete(name);
    return true;
  },
  has(h, name) {
    if (typeof name !== 'string') return Reflect.has(h.session, name);
    if (members.has(name)) return true;
    if (h.detached !== null) return Object.hasOwn(h.detached, name);
    return !isReservedKey(name) && h.session.has(name);
  },
  ownKeys(h) {
    return dataKeys(h);
  },
  getOwnPropertyDescriptor(h, name) {
    if (typeof name !== 'string' || members.has(name)) return undefined;
    if (h.detached !== null) {
      return Object.hasOwn(h.detached, name)
        ? { value: h.detached[name], writable: true, enumerable: true, configurable: true }
        : undefined;
    }
    if (isReservedKey(name) || !h.session.has(name)) return undefined;
    return { value: h.session.get(name), writable: true, enumerable: true, configurable: true };
  },
  defineProperty(h, name, descriptor) {
    if (typeof name !== 'string' || !('value' in descriptor)) return false;
    return handler.set!(h, name, descriptor.value, h);
  },
  getPrototypeOf() {
    return Session.prototype;
  },
  setPrototypeOf() {
    return false;
  },
};

/** `req.session.x = value`: undefined removes the key, as JSON (express-session's stores) drops it. */
function setData(h: Holder, name: string, value: unknown): void {
  if (value === undefined) h.session.delete(name);
  else h.session.set(name, value as never);
}

/**
 * `req.session.flash`: Session's `flash(key, value)` when called, and connect-flash's message bag
 * (the data key `flash`, `{ type: messages[] }`) when used as an object.
 */
function flashBag(h: Holder): unknown {
  const session = h.session;
  const current = (): Record<string, unknown> | undefined => {
    if (h.detached !== null) return h.detached.flash as Record<string, unknown> | undefined;
    const bag = session.has('flash') ? session.get('flash') : undefined;
    return bag !== null && typeof bag === 'object' && !Array.isArray(bag) ? (bag as Record<string, unknown>) : undefined;
  };
  // the bag this view stands for: the one in the session when it was read (connect-flash's
  // `req.flash()` replaces it with {} and returns the old one)
  let bag = current();
  const writable = (): Record<string, unknown> => {
    if (bag === undefined) bag = {};
    return bag;
  };
  const saveBag = () => {
    if (h.detached === null && (current() === bag || !session.has('flash'))) session.set('flash', bag as never);
  };
  const call = (key: string, value: unknown) => session.flash(key, value as never);
  return new Proxy(call, {
    get(target, name) {
      if (name === FLASH_BAG) return true;
      if (typeof name === 'string' && bag !== undefined && Object.hasOwn(bag, name)) return bag[name];
      return name === 'call' || name === 'apply' || name === 'bind' ? Reflect.get(target, name) : undefined;
    },
    set(_target, name, value) {
      if (typeof name !== 'string') return false;
      writable()[name] = value;
      saveBag();
      return true;
    },
    deleteProperty(_target, name) {
      if (typeof name !== 'string' || bag === undefined || !Object.hasOwn(bag, name)) return true;
      delete bag[name];
      saveBag();
      return true;
    },
    has(_target, name) {
      return typeof name === 'string' && bag !== undefined && Object.hasOwn(bag, name);
    },
    ownKeys() {
      return bag === undefined ? [] : Object.keys(bag);
    },
    getOwnPropertyDescriptor(_target, name) {
      if (typeof name !== 'string' || bag === undefined || !Object.hasOwn(bag, name)) return undefined;
      return { value: bag[name], writable: true, enumerable: true, configurable: true };
    },
  });
}
