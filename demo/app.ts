import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import express, { type Request, type Response } from 'express';
import type { Sessions } from 'sessionkit';
import { getSession, sessionErrorHandler, sessionMiddleware } from 'sessionkit/express';
import { findQuestion, progress } from './learn.js';
import { authenticate, displayName } from './users.js';
import * as views from './views.js';

/** What the demo keeps in a session. */
export type Data = {
  count: number;
  color: string;
  user: string;
  cart: Record<string, number>; // product id -> quantity
  learn: Record<string, string>; // question id -> chosen answer
};

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

  const render = (req: Request, res: Response, title: string, body: views.Html) => {
    const session = getSession<Data>(req);
    const user = session.get('user');
    const cartCount = Object.values(session.get('cart', {})).reduce((a, b) => a + b, 0);
    res.type('html').send(views.page(title, { user: user ? displayName(user) : null, cartCount }, body));
  };
  const fail = (req: Request, res: Response, status: number, message: string) => {
    res.status(status);
    if (req.path.endsWith('.json') || req.accepts(['html', 'text']) !== 'html') res.type('text/plain').send(`${message}\n`);
    else render(req, res, 'Sorry', views.problem(message));
  };

  app.get('/style.css', (_req, res) => res.sendFile(fileURLToPath(new URL('./style.css', import.meta.url))));

  app.get('/', (req, res) => {
    const session = getSession<Data>(req);
    const user = session.get('user');
    render(req, res, 'Welcome', views.home(user ? displayName(user) : null, session.get('color')));
  });

  app.get('/count', (req, res) => {
    const session = getSession<Data>(req);
    const count = session.get('count', 0) + 1;
    session.set('count', count);
    res.type('text/plain').send(`Count: ${count}`);
  });

  app.get('/color/set', (req, res) => {
    const color = req.query.color;
    if (typeof color !== 'string' || color.trim() === '' || color.length > 40)
      return fail(req, res, 400, 'Give a colour of up to 40 characters: /color/set?color=teal');
    getSession<Data>(req).set('color', color.trim());
    res.type('text/plain').send('Color saved');
  });

  app.get('/color', (req, res) => {
    res.type('text/plain').send(`Favorite color: ${getSession<Data>(req).get('color', 'unknown')}`);
  });

  app.post('/login', async (req, res) => {
    const { username, password } = req.body ?? {};
    const name = typeof username === 'string' && typeof password === 'string' ? authenticate(username, password) : null;
    if (name === null) {
      res.status(401);
      return render(req, res, 'Welcome', views.home(null, getSession<Data>(req).get('color'), 'Wrong username or password.'));
    }
    const session = getSession<Data>(req);
    await session.cycleKey(); // a new key at login, so a key planted before it is worthless (session fixation)
    session.set('user', username);
    res.redirect(303, '/');
  });

  app.post('/logout', async (req, res) => {
    await getSession<Data>(req).flush(); // deletes the stored session; the cookie is expired
    res.redirect(303, '/');
  });

  app.get('/shop', (req, res) => render(req, res, 'Shop', views.shop(products)));

  app.post('/cart/add', (req, res) => {
    const { item, qty = '1' } = req.body ?? {};
    const n = Number(qty);
    if (typeof item !== 'string' || !productById.has(item)) return fail(req, res, 400, 'There is no such item in the shop.');
    if (!Number.isInteger(n) || n < 1 || n > 99) return fail(req, res, 400, 'The quantity must be a whole number from 1 to 99.');
    // Atomic: when parallel requests add at once, each addition is re-applied on the fresh cart.
    getSession<Data>(req).modify('cart', (cart = {}) => ({ ...cart, [item]: (cart[item] ?? 0) + n }));
    res.redirect(303, '/cart');
  });

  app.get('/cart', (req, res) => {
    const { items, total } = cartLines(getSession<Data>(req).get('cart', {}));
    render(req, res, 'Your cart', views.cart(items, total));
  });

  app.get('/cart.json', (req, res) => {
    const { items, total } = cartLines(getSession<Data>(req).get('cart', {}));
    res.json({ items: items.map(({ id, name, qty, price }) => ({ id, name, qty, price })), total });
  });

  app.post('/cart/checkout', (req, res) => {
    const session = getSession<Data>(req);
    const { items, total } = cartLines(session.get('cart', {}));
    if (items.length === 0) return fail(req, res, 400, 'Your cart is empty: add something before checking out.');
    session.delete('cart');
    render(req, res, 'Order placed', views.order(String(randomInt(100000, 1000000)), total));
  });

  app.get('/learn', (req, res) => render(req, res, 'Why sessions matter', views.learn(getSession<Data>(req).get('learn', {}))));

  app.post('/learn/answer', (req, res) => {
    const { question, choice } = req.body ?? {};
    const q = typeof question === 'string' ? findQuestion(question) : undefined;
    if (!q || typeof choice !== 'string' || !Object.hasOwn(q.choices, choice)) return fail(req, res, 400, 'Unknown question or choice.');
    getSession<Data>(req).modify('learn', (answers = {}) => ({ ...answers, [q.id]: choice }));
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

  app.use(sessionErrorHandler());
  return app;
}
