import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import express, { type Request, type Response } from 'express';
import { ConfigError, CSRF_REFUSED_TEXT, type Session, type Sessions, type UserSession } from 'sessionkit';
import { csrfProtection, getSession, sessionErrorHandler, sessionMiddleware } from 'sessionkit/express';
import { type Answers, findQuestion, progress, withTry } from './learn.js';
import { authenticate, displayName } from './users.js';
import * as views from './views.js';

/** What the demo keeps in a session. */
export type Data = {
  count: number;
  color: string;
  notice: string; // a flash message, shown once after a redirect
  cart: Record<string, number>; // product id -> quantity
  learn: Answers; // question id -> the choices made, first try first
  order: { number: string; total: number }; // the order placed last, shown after checkout's redirect
};

/** A message for the page after the redirect, shown once. */
function flash(session: Session<Data>, text: string): void {
  session.set('notice', text);
}

/** Seconds a sign-in counts as fresh for "Sign out everywhere else"; older asks for the password again. */
const REAUTH_SECONDS = 5 * 60;

/** The most of one item a cart holds. */
const MAX_QTY = 99;

/** A quantity typed in a form: decimal digits only (no "", "0x10", "1e1", " 5"), within [min, 99]. */
function parseQty(value: unknown, min: number): number | null {
  if (typeof value !== 'string' || !/^[0-9]{1,2}$/.test(value)) return null;
  const n = Number(value);
  return n >= min && n <= MAX_QTY ? n : null;
}

const products: views.Product[] = JSON.parse(readFileSync(new URL('./products.json', import.meta.url), 'utf8'));
const productById = new Map(products.map((p) => [p.id, p]));

function cartLines(cart: Record<string, number>) {
  const items = Object.entries(cart).flatMap(([id, qty]) => {
    const p = productById.get(id);
    return p ? [{ ...p, qty }] : [];
  });
  const cents = items.reduce((sum, l) => sum + Math.round(l.price * 100) * l.qty, 0);
  return { items, total: cents / 100 };
}

export function createApp(sessions: Sessions<Data>): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.use((_req, res, next) => {
    res.set('X-Content-Type-Options', 'nosniff'); // text/plain answers echo input: never let a browser run them as HTML
    next();
  });
  app.use(sessionMiddleware(sessions));
  app.use(express.urlencoded({ extended: false, limit: '10kb' }));
  // Refuses a form posted from another site: browsers say where a form comes from (Sec-Fetch-Site,
  // Origin); only a browser that says neither needs the session's token (views.page puts it in
  // every form). A browser is sent to the site's own 403 page (a redirect, so a reload does not
  // post again); a script gets the short text.
  app.use(
    csrfProtection({
      onRefused: (req, res, refusal) => {
        if (req.accepts(['text', 'html']) === 'html') return res.redirect(303, `/forbidden?reason=${refusal.reason}`);
        res.status(refusal.status).type('text/plain').send(CSRF_REFUSED_TEXT);
      },
    }),
  );

  /** The display name of the signed-in user, or null. */
  const userOf = (session: Session<Data>) => {
    const id = session.userId;
    return id === null ? null : displayName(id);
  };

  const render = (req: Request, res: Response, title: string, body: views.Html, message: string | null = null) => {
    const session = getSession<Data>(req);
    const cartCount = Object.values(session.get('cart', {})).reduce((a, b) => a + b, 0);
    // A visitor without a session gets no token, so a page stores nothing and sets no cookie.
    const csrf = session.key !== null ? session.csrfToken() : null;
    const notice = session.has('notice') ? session.pop('notice') : message; // a flash message: read once
    res.type('html').send(views.page(title, { user: userOf(session), cartCount, csrf, notice }, body));
  };
  const fail = (req: Request, res: Response, status: number, message: string, title = 'Sorry', body?: views.Html) => {
    res.status(status);
    if (req.path.endsWith('.json') || req.accepts(['html', 'text']) !== 'html') res.type('text/plain').send(`${message}\n`);
    else render(req, res, title, body ?? views.problem(message));
  };
  /**
   * /count, /color and /color/set answer scripts (curl, fetch: any type accepted, or no Accept) with their bare
   * text, as before; a client that prefers HTML (a browser) gets the same text in a page of the site.
   */
  const answer = (req: Request, res: Response, text: string, title: string, more?: views.Html) => {
    res.vary('Accept');
    if (req.accepts(['text/plain', 'html']) === 'html') render(req, res, title, views.result(text, more));
    else res.type('text/plain').send(text);
  };

  app.get('/style.css', (_req, res) => res.sendFile(fileURLToPath(new URL('./style.css', import.meta.url))));
  for (const icon of ['/favicon.svg', '/favicon.ico']) {
    app.get(icon, (_req, res) => res.type('image/svg+xml').set('Cache-Control', 'public, max-age=86400').send(views.FAVICON));
  }

  app.get('/forbidden', (req, res) => {
    res.status(403);
    render(req, res, 'Form not accepted', views.forbidden(String(req.query.reason ?? '')));
  });

  app.get('/', (req, res) => {
    const session = getSession<Data>(req);
    // after a sign-out the session is gone, so its message travels in the address
    const bye = req.query['signed-out'] !== undefined && session.userId === null ? 'You have signed out.' : null;
    render(req, res, 'Welcome', views.home(userOf(session), session.get('color')), bye);
  });

  app.get('/count', (req, res) => {
    const session = getSession<Data>(req);
    const count = session.get('count', 0) + 1;
    session.set('count', count);
    answer(req, res, `Count: ${count}`, 'Counter', views.html`<p class="hint">One count per visitor: another browser starts at 1.</p>`);
  });

  app.get('/color/set', (req, res) => {
    const color = req.query.color;
    if (typeof color !== 'string' || color.trim() === '' || color.length > 40) {
      const message = 'Give a color of up to 40 characters: /color/set?color=teal';
      res.vary('Accept');
      return fail(req, res, 400, message, 'Favorite color', views.colorForm(message));
    }
    getSession<Data>(req).set('color', color.trim());
    answer(req, res, 'Color saved', 'Favorite color', views.html`<p><a href="/color">See it</a></p>${views.colorForm()}`);
  });

  app.get('/color', (req, res) => {
    answer(req, res, `Favorite color: ${getSession<Data>(req).get('color', 'unknown')}`, 'Favorite color', views.colorForm());
  });

  app.get('/login', (req, res) => {
    render(req, res, 'Sign in', views.login(userOf(getSession<Data>(req))));
  });

  app.post('/login', async (req, res) => {
    const { username, password } = req.body ?? {};
    const name = typeof username === 'string' && typeof password === 'string' ? authenticate(username, password) : null;
    if (name === null) {
      res.status(401);
      return render(req, res, 'Sign in', views.login(null, 'Wrong username or password.'));
    }
    const session = getSession<Data>(req);
    // A new key at login, so a key planted before it is worthless (session fixation); the session
    // is bound to the user, with this browser's user agent, for the devices page.
    await session.login(username);
    res.redirect(303, '/');
  });

  app.post('/logout', async (req, res) => {
    // deletes the stored session and expires the cookie; Clear-Site-Data asks the browser to drop
    // every cookie of the site too
    await getSession<Data>(req).flush({ clearSiteData: true });
    res.redirect(303, '/?signed-out');
  });

  const QTY_RULE = `The quantity must be a whole number from 1 to ${MAX_QTY}, written in digits.`;
  /** Why a cart form was refused, by the code that travels in the address after the redirect. */
  const REFUSALS: Record<string, (session: Session<Data>, item: string) => string> = {
    'no-item': () => 'There is no such item in the shop.',
    qty: () => QTY_RULE,
    cap: (session, item) =>
      `A cart holds at most ${MAX_QTY} of an item, and yours has ${session.get('cart', {})[item] ?? 0} × ${productById.get(item)?.name ?? item}.`,
    'not-in-cart': () => 'That item is not in your cart.',
    'update-qty': () => `The quantity must be a whole number from 0 (remove it) to ${MAX_QTY}, written in digits.`,
  };
  /** The refusal a page was redirected with (`?refused=code&item=…&qty=…`), or undefined. */
  const refusalOf = (req: Request, query: Record<string, unknown>): views.Refusal | undefined => {
    const { refused, item, qty } = query;
    if (typeof refused !== 'string' || !Object.hasOwn(REFUSALS, refused)) return undefined;
    const about = typeof item === 'string' ? item : '';
    return {
      message: REFUSALS[refused]!(getSession<Data>(req), about),
      item: about || undefined,
      qty: typeof qty === 'string' ? qty.slice(0, 20) : undefined,
    };
  };
  /**
   * A refused cart form. A browser is redirected to the page that shows the refusal with the form
   * (post, redirect, get: a reload posts nothing again); a script gets the 400 answer at once.
   */
  const refuse = (req: Request, res: Response, page: '/shop' | '/cart', code: string, refusal: Omit<views.Refusal, 'message'> = {}) => {
    const query = new URLSearchParams({ refused: code });
    if (refusal.item !== undefined) query.set('item', refusal.item);
    if (refusal.qty !== undefined) query.set('qty', refusal.qty.slice(0, 20));
    if (req.accepts(['text', 'html']) === 'html') return res.redirect(303, `${page}?${query}`);
    const asRedirected = Object.fromEntries(query); // the refusal as the page after the redirect reads it
    return page === '/shop' ? shopPage(req, res, asRedirected) : cartPage(req, res, asRedirected);
  };
  const shopPage = (req: Request, res: Response, query: Record<string, unknown> = req.query) => {
    const refusal = refusalOf(req, query);
    if (refusal === undefined) return render(req, res, 'Shop', views.shop(products));
    fail(req, res, 400, refusal.message, 'Shop', views.shop(products, refusal));
  };
  const cartPage = (req: Request, res: Response, query: Record<string, unknown> = req.query) => {
    const { items, total } = cartLines(getSession<Data>(req).get('cart', {}));
    const refusal = refusalOf(req, query);
    if (refusal === undefined) return render(req, res, 'Your cart', views.cart(items, total));
    fail(req, res, 400, refusal.message, 'Your cart', views.cart(items, total, refusal));
  };

  app.get('/shop', (req, res) => shopPage(req, res));

  app.post('/cart/add', (req, res) => {
    const { item, qty = '1' } = req.body ?? {};
    if (typeof item !== 'string' || !productById.has(item)) return refuse(req, res, '/shop', 'no-item');
    const n = parseQty(qty, 1);
    const typed = typeof qty === 'string' ? qty : undefined;
    if (n === null) return refuse(req, res, '/shop', 'qty', { item, qty: typed });
    const session = getSession<Data>(req);
    const had = session.get('cart', {})[item] ?? 0;
    if (had + n > MAX_QTY) return refuse(req, res, '/shop', 'cap', { item, qty: typed });
    // Atomic: when parallel requests add at once, each addition is re-applied on the fresh cart
    // (capped, since the check above saw the cart before the other requests' additions).
    session.modify('cart', (cart = {}) => ({ ...cart, [item]: Math.min(MAX_QTY, (cart[item] ?? 0) + n) }));
    const name = productById.get(item)!.name;
    flash(session, n === 1 ? `Added ${name} to your cart` : `Added ${n} × ${name} to your cart`);
    res.redirect(303, '/cart');
  });

  app.post('/cart/update', (req, res) => {
    const { item, qty } = req.body ?? {};
    const session = getSession<Data>(req);
    if (typeof item !== 'string' || !Object.hasOwn(session.get('cart', {}), item)) return refuse(req, res, '/cart', 'not-in-cart');
    const n = parseQty(qty, 0);
    if (n === null) return refuse(req, res, '/cart', 'update-qty', { item, qty: typeof qty === 'string' ? qty : undefined });
    session.modify('cart', (cart = {}) => {
      const { [item]: _, ...rest } = cart;
      return n === 0 ? rest : { ...cart, [item]: n };
    });
    const name = productById.get(item)?.name ?? item;
    flash(session, n === 0 ? `Removed ${name} from your cart` : `Updated ${name} to ${n}`);
    res.redirect(303, '/cart');
  });

  app.post('/cart/remove', (req, res) => {
    const { item } = req.body ?? {};
    const session = getSession<Data>(req);
    if (typeof item === 'string' && Object.hasOwn(session.get('cart', {}), item)) {
      session.modify('cart', (cart = {}) => {
        const { [item]: _, ...rest } = cart;
        return rest;
      });
      flash(session, `Removed ${productById.get(item)?.name ?? item} from your cart`);
    }
    res.redirect(303, '/cart'); // removing what is not there is done already
  });

  app.get('/cart', (req, res) => cartPage(req, res));

  app.get('/cart.json', (req, res) => {
    const { items, total } = cartLines(getSession<Data>(req).get('cart', {}));
    res.json({ items: items.map(({ id, name, qty, price }) => ({ id, name, qty, price })), total });
  });

  app.post('/cart/checkout', (req, res) => {
    const session = getSession<Data>(req);
    const { items, total } = cartLines(session.get('cart', {}));
    if (items.length === 0) return fail(req, res, 400, 'Your cart is empty: add something before checking out.');
    session.delete('cart');
    session.set('order', { number: String(randomInt(100000, 1000000)), total });
    res.redirect(303, '/order'); // so reloading the confirmation does not place the order again
  });

  app.get('/order', (req, res) => {
    const order = getSession<Data>(req).get('order');
    if (!order) return render(req, res, 'No order yet', views.noOrder());
    render(req, res, 'Order placed', views.order(order.number, order.total));
  });

  // Your devices: every session signed in as this user, each of which can be ended from here.
  const devicesOf = async (session: Session<Data>): Promise<UserSession[] | null> => {
    try {
      return await sessions.listUserSessions(session.userId!);
    } catch (err) {
      if (err instanceof ConfigError) return null; // SESSION_STORE=cookie: the server cannot list cookies
      throw err;
    }
  };

  app.get('/devices', async (req, res) => {
    const session = getSession<Data>(req);
    if (session.userId === null) return render(req, res, 'Your devices', views.devicesSignedOut());
    const list = await devicesOf(session);
    render(req, res, 'Your devices', list === null ? views.devicesUnsupported() : views.devices(list, session.id, Date.now()));
  });

  app.post('/devices/revoke', async (req, res) => {
    const session = getSession<Data>(req);
    const { id } = req.body ?? {};
    if (session.userId === null) return res.redirect(303, '/devices');
    // Only one of this user's own sessions: an id from the form is never trusted by itself.
    const target = (await devicesOf(session))?.find((d) => d.id === id && d.id !== session.id);
    if (!target) return fail(req, res, 400, 'That device is not signed in as you (any more).', 'Your devices');
    await sessions.revokeSession(target.id);
    flash(session, `Signed out ${views.deviceName(target.userAgent)}`);
    res.redirect(303, '/devices');
  });

  app.post('/devices/revoke-others', async (req, res) => {
    const session = getSession<Data>(req);
    if (session.userId === null) return res.redirect(303, '/devices');
    // A sign-in older than five minutes proves its password again first (a borrowed, unlocked laptop).
    if (!session.authenticatedWithin(REAUTH_SECONDS)) {
      const { password } = req.body ?? {};
      if (typeof password !== 'string' || password === '') return render(req, res, 'Confirm it is you', views.reauth());
      if (authenticate(session.userId, password) === null) {
        res.status(401);
        return render(req, res, 'Confirm it is you', views.reauth('Wrong password.'));
      }
      await session.login(session.userId); // renews when the user last proved who they are
    }
    const n = await sessions.revokeUserSessions(session.userId, { except: session });
    flash(session, n === 1 ? 'Signed out 1 other device' : `Signed out ${n} other devices`);
    res.redirect(303, '/devices');
  });

  app.get('/learn', (req, res) => render(req, res, 'Why sessions matter', views.learn(getSession<Data>(req).get('learn', {}))));

  app.post('/learn/answer', (req, res) => {
    const { question, choice } = req.body ?? {};
    const q = typeof question === 'string' ? findQuestion(question) : undefined;
    if (!q || typeof choice !== 'string' || !Object.hasOwn(q.choices, choice)) return fail(req, res, 400, 'Unknown question or choice.');
    getSession<Data>(req).modify('learn', (answers = {}) => withTry(answers, q, choice));
    res.redirect(303, '/learn'); // the browser keeps the form's #q fragment
  });

  app.get('/learn.json', (req, res) => res.json(progress(getSession<Data>(req).get('learn', {}))));

  const sessionView = (req: Request): views.SessionView => {
    const session = getSession<Data>(req);
    const stored = session.key !== null;
    return {
      cookie: stored ? `${sessions.cookieName}=${session.key}` : null,
      signedData: 'clientSide' in sessions.store, // SESSION_STORE=cookie: the cookie carries the data itself
      data: Object.fromEntries(session.entries()),
      expiresAt: stored ? session.expiryDate : null,
      ageSeconds: stored ? session.expiryAge : 0,
    };
  };

  app.get('/session', (req, res) => render(req, res, 'What this site remembers about you', views.sessionPage(sessionView(req))));

  app.get('/session.json', (req, res) => {
    const { cookie, data, expiresAt } = sessionView(req);
    res.json({ stored: cookie !== null, data, expiresAt });
  });

  app.use((req, res) => fail(req, res, 404, `Not found: there is no page at ${req.path}.`, 'Page not found', views.notFound(req.path)));

  app.use(sessionErrorHandler());
  return app;
}
