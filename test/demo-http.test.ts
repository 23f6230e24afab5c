// The demo shop over plain HTTP: status codes, redirects, JSON shapes and bad input.
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { demoDir, freePort, startDemo, type Demo } from './support/demo.js';

/**
 * One browser-less visitor: keeps the session cookie as a browser would, and posts forms with the
 * CSRF token of the last page it was shown, as a browser posting that page's form does.
 */
class Visitor {
  cookie: string | null = null;
  csrf: string | null = null;
  constructor(
    readonly base: string,
    readonly userAgent?: string,
  ) {}

  async fetch(path: string, init: RequestInit & { form?: Record<string, string> } = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookie) headers.set('cookie', `sessionid=${this.cookie}`);
    if (this.userAgent) headers.set('user-agent', this.userAgent);
    let body = init.body;
    if (init.form) {
      headers.set('content-type', 'application/x-www-form-urlencoded');
      body = new URLSearchParams(init.form).toString();
    }
    const res = await fetch(this.base + path, { method: init.form ? 'POST' : init.method, headers, body, redirect: 'manual' });
    for (const c of res.headers.getSetCookie()) {
      const m = /^sessionid=([^;]*)/.exec(c);
      if (m) this.cookie = /Max-Age=0/i.test(c) ? null : m[1]!;
    }
    if (res.headers.get('content-type')?.startsWith('text/html')) {
      const token = /name="csrf_token" value="([^"]+)"/.exec(await res.clone().text());
      if (token) this.csrf = token[1]!;
    }
    return res;
  }
  post(path: string, form: Record<string, string>, init: RequestInit = {}) {
    return this.fetch(path, { ...init, form: this.csrf && !('csrf_token' in form) ? { ...form, csrf_token: this.csrf } : form });
  }
  async json(path: string): Promise<any> {
    return (await this.fetch(path)).json();
  }
}

let demo: Demo;
const dir = demoDir();

before(async () => {
  demo = await startDemo({ cwd: dir.dir, port: await freePort() });
});
after(async () => {
  await demo?.stop();
  dir.remove();
});

describe('demo shop over HTTP', () => {
  test('a new visitor has nothing stored and gets no cookie', async () => {
    const v = new Visitor(demo.url);
    const res = await v.fetch('/session.json');
    assert.deepEqual(await res.json(), { stored: false, data: {}, expiresAt: null });
    assert.deepEqual(res.headers.getSetCookie(), []);
    for (const path of ['/', '/shop', '/cart', '/cart.json', '/learn', '/learn.json', '/color', '/session', '/login', '/order']) {
      assert.equal((await v.fetch(path)).status, 200, path);
    }
    assert.equal(v.cookie, null);
  });

  test('the counter counts per visitor, as text/plain', async () => {
    const a = new Visitor(demo.url);
    const b = new Visitor(demo.url);
    for (const n of [1, 2, 3]) assert.equal(await (await a.fetch('/count')).text(), `Count: ${n}`);
    const res = await b.fetch('/count');
    assert.match(res.headers.get('content-type')!, /^text\/plain/);
    assert.equal(await res.text(), 'Count: 1');
  });

  const asBrowser = { headers: { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' } };

  test('a browser gets /count, /color and /color/set as pages of the site with the same text', async () => {
    const v = new Visitor(demo.url);
    const count = await v.fetch('/count', asBrowser);
    assert.match(count.headers.get('content-type')!, /^text\/html/);
    assert.match(count.headers.get('vary')!, /Accept/);
    const page = await count.text();
    assert.match(page, /<p class="result">Count: 1<\/p>/);
    assert.match(page, /<nav><a href="\/shop">Shop<\/a>/);
    assert.match(page, /<link rel="stylesheet" href="\/style.css">/);
    assert.equal(await (await v.fetch('/count')).text(), 'Count: 2', 'the same counter, as text for a script');
    assert.match((await v.fetch('/count')).headers.get('vary')!, /Accept/);

    const set = await (await v.fetch('/color/set?color=teal', asBrowser)).text();
    assert.match(set, /<p class="result">Color saved<\/p>/);
    assert.match(set, /<form method="get" action="\/color\/set">/);
    const color = await (await v.fetch('/color', asBrowser)).text();
    assert.match(color, /<p class="result">Favorite color: teal<\/p>/);
    assert.match(color, /<form method="get" action="\/color\/set">/);
    const bad = await v.fetch('/color/set?color=', asBrowser);
    assert.equal(bad.status, 400);
    const badPage = await bad.text();
    assert.match(badPage, /role="alert">Give a color of up to 40 characters/);
    assert.match(badPage, /<form method="get" action="\/color\/set">/);
  });

  test('an unknown address is a 404 page of the site', async () => {
    const v = new Visitor(demo.url);
    const res = await v.fetch('/no/such/page', asBrowser);
    assert.equal(res.status, 404);
    const page = await res.text();
    assert.match(page, /<title>Page not found · sessionkit demo<\/title>/);
    assert.match(page, /There is no page at \/no\/such\/page\./);
    assert.match(page, /<link rel="stylesheet" href="\/style.css">/);
    assert.match(page, /<nav>/);
    const text = await v.fetch('/no/such/page', { headers: { accept: 'text/plain' } });
    assert.equal(text.status, 404);
    assert.equal(await text.text(), 'Not found: there is no page at /no/such/page.\n');
    assert.equal(v.cookie, null);
  });

  test('GET /login shows the form, or who is signed in', async () => {
    const v = new Visitor(demo.url);
    const page = await (await v.fetch('/login')).text();
    assert.match(page, /<form method="post" action="\/login"/);
    assert.match(page, /<a href="\/login">Sign in<\/a>/);
    await v.post('/login', { username: 'alice', password: 'wonderland' });
    const signedIn = await (await v.fetch('/login')).text();
    assert.match(signedIn, /Welcome, Alice/);
    assert.doesNotMatch(signedIn, /action="\/login"/);
  });

  test('the visible text is in one spelling (US English)', async () => {
    const v = new Visitor(demo.url);
    await v.post('/cart/add', { item: 'tea' });
    await v.post('/learn/answer', { question: '1', choice: 'a' });
    const uk = /colour|favourite|behaviour|honour|centre|licence|cancelled|travell|organis|recognis|realis|customis|authoris|catalogue/i;
    for (const path of [
      '/',
      '/shop',
      '/cart',
      '/learn',
      '/session',
      '/login',
      '/count',
      '/color',
      '/color/set?color=teal',
      '/order',
      '/nope',
    ]) {
      const text = await (await v.fetch(path, asBrowser)).text();
      assert.doesNotMatch(text, uk, path);
    }
    assert.doesNotMatch(await (await v.fetch('/color/set?color=')).text(), uk);
  });

  test('the favorite color is saved and shown, escaped in HTML', async () => {
    const v = new Visitor(demo.url);
    assert.equal(await (await v.fetch('/color')).text(), 'Favorite color: unknown');
    assert.equal((await v.fetch('/color/set')).status, 400);
    assert.equal(await (await v.fetch('/color/set?color=%3Cb%3Eteal')).text(), 'Color saved');
    assert.equal(await (await v.fetch('/color')).text(), 'Favorite color: <b>teal');
    const home = await (await v.fetch('/')).text();
    assert.match(home, /&lt;b&gt;teal/);
    assert.doesNotMatch(home, /<b>teal/);
  });

  test('cart: add, JSON shape, total; unknown item and bad quantity are 400 and store nothing', async () => {
    const v = new Visitor(demo.url);
    const forms: Record<string, string>[] = [
      { item: 'unicorn' },
      {},
      ...['0', 'many', '', '0x10', '1e1', ' 5', '5.0', '+5', '100', '-1'].map((qty) => ({ item: 'tea', qty })),
    ];
    for (const form of forms) {
      const res = await v.post('/cart/add', form);
      assert.equal(res.status, 400, JSON.stringify(form));
      assert.deepEqual(res.headers.getSetCookie(), []);
      const page = await res.text();
      assert.match(page, /<p class="error" role="alert">(There is no such item|The quantity must be a whole number from 1 to 99)/);
      assert.match(page, /<form method="post" action="\/cart\/add">/, 'the form is shown again');
    }
    const page = await (await v.post('/cart/add', { item: 'tea', qty: '1e1' })).text();
    assert.match(page, /value="1e1" min="1" max="99" aria-label="Quantity" aria-invalid="true"/, 'what was typed, marked');
    const res = await v.post('/cart/add', { item: 'tea', qty: '2' });
    assert.equal(res.status, 303);
    assert.equal(res.headers.get('location'), '/cart');
    await v.post('/cart/add', { item: 'mug' });
    assert.deepEqual(await v.json('/cart.json'), {
      items: [
        { id: 'tea', name: 'Earl Grey tea, 100 g', qty: 2, price: 6.5 },
        { id: 'mug', name: 'Enamel mug', qty: 1, price: 12 },
      ],
      total: 25,
    });
    assert.match(await (await v.fetch('/cart')).text(), /€25\.00/);
  });

  test('a cart holds at most 99 of an item', async () => {
    const v = new Visitor(demo.url);
    assert.equal((await v.post('/cart/add', { item: 'mug', qty: '60' })).status, 303);
    const res = await v.post('/cart/add', { item: 'mug', qty: '40' });
    assert.equal(res.status, 400);
    assert.match(await res.text(), /A cart holds at most 99 of an item, and yours has 60 × Enamel mug\./);
    assert.equal((await v.post('/cart/add', { item: 'mug', qty: '39' })).status, 303);
    assert.equal((await v.json('/cart.json')).items[0].qty, 99);
    assert.equal((await v.post('/cart/add', { item: 'mug' })).status, 400);
    assert.equal((await v.json('/cart.json')).items[0].qty, 99);
  });

  test('the cart can be edited: change a quantity, remove an item; a bad quantity shows the cart and a message', async () => {
    const v = new Visitor(demo.url);
    await v.post('/cart/add', { item: 'tea', qty: '2' });
    await v.post('/cart/add', { item: 'mug' });
    await v.post('/cart/add', { item: 'pen' });
    const page = await (await v.fetch('/cart')).text();
    assert.match(
      page,
      /<form method="post" action="\/cart\/update">(?:<input type="hidden" name="csrf_token" value="[\w-]+">)?<input type="hidden" name="item" value="tea">/,
    );
    assert.match(
      page,
      /<form method="post" action="\/cart\/remove">(?:<input type="hidden" name="csrf_token" value="[\w-]+">)?<input type="hidden" name="item" value="mug">/,
    );
    const update = await v.post('/cart/update', { item: 'tea', qty: '5' });
    assert.equal(update.status, 303);
    assert.equal(update.headers.get('location'), '/cart');
    assert.equal((await v.post('/cart/remove', { item: 'mug' })).status, 303);
    assert.equal((await v.post('/cart/update', { item: 'pen', qty: '0' })).status, 303, '0 removes the item');
    assert.deepEqual(await v.json('/cart.json'), { items: [{ id: 'tea', name: 'Earl Grey tea, 100 g', qty: 5, price: 6.5 }], total: 32.5 });
    for (const qty of ['', '0x10', '1e1', '100', 'five']) {
      const res = await v.post('/cart/update', { item: 'tea', qty });
      assert.equal(res.status, 400, qty);
      const body = await res.text();
      assert.match(body, /role="alert">The quantity must be a whole number from 0 \(remove it\) to 99/);
      assert.match(body, /<form method="post" action="\/cart\/update">/);
    }
    assert.equal((await v.post('/cart/update', { item: 'mug', qty: '3' })).status, 400, 'only what is in the cart');
    assert.equal((await v.post('/cart/remove', { item: 'mug' })).status, 303, 'removing twice is fine');
    assert.equal((await v.json('/cart.json')).items[0].qty, 5);
  });

  test('checkout empties the cart and redirects to the order number, so a reload places nothing; an empty cart is 400', async () => {
    const v = new Visitor(demo.url);
    assert.equal((await v.post('/cart/checkout', {})).status, 400);
    await v.post('/cart/add', { item: 'pen' });
    await v.fetch('/cart'); // where the redirect goes, with the checkout form
    const res = await v.post('/cart/checkout', {});
    assert.equal(res.status, 303);
    assert.equal(res.headers.get('location'), '/order');
    const page = await (await v.fetch('/order')).text();
    const number = /order number is <strong class="order">(\d{6})<\/strong> \(€24\.00\)/.exec(page)?.[1];
    assert.ok(number, page);
    assert.ok(
      (await (await v.fetch('/order')).text()).includes(`<strong class="order">${number}</strong>`),
      'a reload shows the same order',
    );
    assert.deepEqual(await v.json('/cart.json'), { items: [], total: 0 });
    assert.equal((await v.post('/cart/checkout', {})).status, 400);
    assert.match(await (await new Visitor(demo.url).fetch('/order')).text(), /You have not placed an order yet/);
  });

  test('20 parallel add-to-cart requests of one visitor all survive', async () => {
    const v = new Visitor(demo.url);
    await v.fetch('/count'); // a session to share
    const key = v.cookie;
    assert.ok(key);
    // Every request loads the session when its headers arrive; the bodies follow only once all
    // 20 are in flight, so all 20 commits start from the same version and conflict.
    const body = 'item=notebook';
    const requests = Array.from({ length: 20 }, () => {
      const req = http.request(`${demo.url}/cart/add`, {
        method: 'POST',
        agent: false,
        headers: { cookie: `sessionid=${key}`, 'content-type': 'application/x-www-form-urlencoded', 'content-length': body.length },
      });
      req.flushHeaders();
      return req;
    });
    const responses = requests.map(
      (req) => new Promise<http.IncomingMessage>((resolve, reject) => req.on('response', resolve).on('error', reject)),
    );
    await v.fetch('/session.json'); // answered after the server has read the 20 heads
    for (const req of requests) req.end(body);
    const statuses = (await Promise.all(responses)).map((res) => (res.resume(), res.statusCode));
    assert.deepEqual(statuses, Array(20).fill(303));
    const cart = await v.json('/cart.json');
    assert.equal(cart.items[0].qty, 20);
    assert.equal(cart.total, 198);
  });

  test('a wrong password is 401 with the form and an error, and changes nothing', async () => {
    const v = new Visitor(demo.url);
    await v.post('/cart/add', { item: 'tea' });
    await v.fetch('/login'); // the form is shown before it is posted
    const key = v.cookie;
    const { data: before } = await v.json('/session.json');
    const forms: Record<string, string>[] = [
      { username: 'alice', password: 'wrong' },
      { username: 'mallory', password: 'wonderland' },
      { username: 'alice' },
    ];
    for (const form of forms) {
      const res = await v.post('/login', form);
      assert.equal(res.status, 401, JSON.stringify(form));
      const body = await res.text();
      assert.match(body, /Wrong username or password/);
      assert.match(body, /<form method="post" action="\/login"/);
      assert.deepEqual(res.headers.getSetCookie(), []);
    }
    assert.equal(v.cookie, key);
    assert.deepEqual((await v.json('/session.json')).data, before);
  });

  test('login cycles the key, keeps the cart and greets the user; logout deletes it all', async () => {
    const v = new Visitor(demo.url);
    await v.post('/cart/add', { item: 'tote' });
    await v.post('/learn/answer', { question: '1', choice: 'd' });
    const before = v.cookie!;
    const res = await v.post('/login', { username: 'bob', password: 'builder' });
    assert.equal(res.status, 303);
    assert.equal(res.headers.get('location'), '/');
    assert.ok(v.cookie && v.cookie !== before);
    assert.match(await (await v.fetch('/')).text(), /Welcome, Bob/);
    const { data } = await v.json('/session.json');
    assert.deepEqual([data.cart, data.learn], [{ tote: 1 }, { 1: ['d'] }]);
    assert.equal(data._session_meta.user, 'bob', 'login binds the session to the user');
    assert.equal((await v.json('/learn.json')).correct, 1, 'learn progress survives the login');
    const old = new Visitor(demo.url);
    old.cookie = before;
    assert.equal((await old.json('/session.json')).stored, false, 'the pre-login key loads nothing');

    const loggedIn = v.cookie!;
    const out = await v.post('/logout', {});
    assert.equal(out.status, 303);
    assert.equal(out.headers.get('location'), '/?signed-out');
    assert.match(out.headers.getSetCookie().join(), /sessionid=; .*Max-Age=0/);
    assert.equal(out.headers.get('cache-control'), 'private, no-store');
    assert.equal(out.headers.get('clear-site-data'), '"cookies"');
    assert.match(await (await v.fetch('/?signed-out')).text(), /<p class="notice" role="status">You have signed out\.<\/p>/);
    assert.equal(v.cookie, null);
    old.cookie = loggedIn;
    assert.deepEqual(await old.json('/session.json'), { stored: false, data: {}, expiresAt: null });
  });

  test('learn: answers are recorded; unknown question or choice is 400', async () => {
    const v = new Visitor(demo.url);
    const forms: Record<string, string>[] = [
      { question: '7', choice: 'a' },
      { question: '1', choice: 'e' },
      { question: '1' },
      { question: 'x', choice: 'a' },
      { question: 'constructor', choice: 'a' },
      { question: '1', choice: 'toString' },
    ];
    for (const form of forms) {
      assert.equal((await v.post('/learn/answer', form)).status, 400, JSON.stringify(form));
    }
    assert.equal(v.cookie, null);
    const res = await v.post('/learn/answer', { question: '3', choice: 'b' });
    assert.equal(res.status, 303);
    assert.equal(res.headers.get('location'), '/learn');
    await v.post('/learn/answer', { question: '4', choice: 'd' });
    const json = await v.json('/learn.json');
    assert.equal(json.answered, 2);
    assert.equal(json.correct, 1);
    assert.equal(json.questions.length, 6);
    assert.deepEqual(json.questions[2], { id: 3, answered: true, correct: true, solved: true });
    assert.deepEqual(json.questions[3], { id: 4, answered: true, correct: false, solved: false });
    assert.deepEqual(json.questions[0], { id: 1, answered: false, correct: false, solved: false });
    const page = await (await v.fetch('/learn')).text();
    assert.match(page, /Score so far: 1 of 6/);
    assert.match(page, /Right!/);
    assert.match(page, /Wrong: the answer is A\./);
  });

  test('learn: the score reads 0 of 6 before any answer, and a corrected answer does not count', async () => {
    const v = new Visitor(demo.url);
    assert.match(await (await v.fetch('/learn')).text(), /<p class="score">Score so far: 0 of 6<\/p>/);
    await v.post('/learn/answer', { question: '4', choice: 'd' });
    await v.post('/learn/answer', { question: '4', choice: 'a' });
    const json = await v.json('/learn.json');
    assert.equal(json.correct, 0);
    assert.deepEqual(json.questions[3], { id: 4, answered: true, correct: false, solved: true });
    const page = await (await v.fetch('/learn')).text();
    assert.match(page, /Score so far: 0 of 6/);
    assert.match(page, /Right, at a later try: only a first try counts toward the score\./);
  });

  test('learn: steps are numbered once, code choices are code, and question 6 asks why the key changes at login', async () => {
    const v = new Visitor(demo.url);
    await v.post('/learn/answer', { question: '6', choice: 'b' });
    const page = await (await v.fetch('/learn')).text();
    assert.match(page, /<h3>6\. Why does the session key change when a visitor signs in\?<\/h3>/);
    assert.match(page, /<ol class="steps"><li>Step 1: /);
    const css = await (await v.fetch('/style.css')).text();
    assert.match(css, /\.steps \{\s*list-style: none;/, 'the list adds no second number');
    assert.match(page, /B\. <code>req\.setSession\(&#39;user&#39;, &#39;Alice&#39;\)<\/code>/);
    assert.match(page, /C\. <code>1: req\.session\.set\(&#39;color&#39;, color\)/);
    assert.doesNotMatch(page, /A\. <code>They make pages load faster/, 'prose choices stay prose');
    assert.equal((await v.json('/learn.json')).correct, 1);
  });

  test('/session shows the key, the data and the expiry; every page links it', async () => {
    const v = new Visitor(demo.url);
    assert.match(await (await v.fetch('/session')).text(), /Nothing is stored about you yet/);
    await v.fetch('/color/set?color=teal');
    const json = await v.json('/session.json');
    assert.equal(json.stored, true);
    assert.deepEqual(json.data, { color: 'teal' });
    const days = (Date.parse(json.expiresAt) - Date.now()) / 86_400_000;
    assert.ok(days > 13.9 && days <= 14, String(days));
    const page = await (await v.fetch('/session')).text();
    assert.ok(page.includes(`sessionid=${v.cookie}`));
    assert.match(page, /&quot;color&quot;: &quot;teal&quot;/);
    assert.match(page, /in 14 days and 0 hours/);
    for (const path of ['/', '/shop', '/cart', '/learn', '/session']) {
      assert.match(await (await v.fetch(path)).text(), /<footer><a href="\/session">/, path);
    }
  });

  test('every POST form of a visitor with a session carries its CSRF token; a visitor without one gets none', async () => {
    const anonymous = new Visitor(demo.url);
    for (const path of ['/', '/shop', '/learn', '/login']) {
      const page = await (await anonymous.fetch(path)).text();
      assert.doesNotMatch(page, /csrf_token/, path);
    }
    assert.equal(anonymous.cookie, null, 'and no cookie');
    const v = new Visitor(demo.url);
    await v.post('/cart/add', { item: 'tea' });
    await v.post('/login', { username: 'alice', password: 'wonderland' });
    for (const path of ['/', '/shop', '/cart', '/learn', '/devices', '/login']) {
      const page = await (await v.fetch(path)).text();
      const forms = page.match(/<form method="post"[^>]*>/g) ?? [];
      const guarded = page.match(/<form method="post"[^>]*><input type="hidden" name="csrf_token" value="[A-Za-z0-9_-]{86}">/g) ?? [];
      assert.ok(forms.length > 0, path);
      assert.equal(guarded.length, forms.length, `${path}: every form`);
    }
  });

  test('a POST without the token, with a wrong one, or from another site is 403 and changes nothing', async () => {
    const v = new Visitor(demo.url);
    await v.post('/cart/add', { item: 'tea' });
    await v.fetch('/cart'); // the session now holds a token
    const { data: before } = await v.json('/session.json');
    for (const [form, init] of [
      [{ item: 'mug', csrf_token: '' }, {}],
      [{ item: 'mug', csrf_token: 'A'.repeat(43) }, {}],
      [{ item: 'mug' }, { headers: { origin: 'https://evil.example' } }],
    ] as [Record<string, string>, RequestInit][]) {
      const res = await v.post('/cart/add', form, init);
      assert.equal(res.status, 403, JSON.stringify([form, init]));
      assert.match(await res.text(), /^Forbidden: /);
    }
    const noToken = await v.fetch('/cart/add', { form: { item: 'mug' } });
    assert.equal(noToken.status, 403);
    assert.deepEqual((await v.json('/session.json')).data, before);
    assert.equal((await v.post('/cart/add', { item: 'mug' })).status, 303, 'with the page token it goes through');
    const stranger = new Visitor(demo.url);
    assert.equal((await stranger.post('/cart/add', { item: 'mug' }, { headers: { origin: 'https://evil.example' } })).status, 403);
    assert.equal(stranger.cookie, null, "a stranger's first POST is guarded by the origin check");
  });

  test("a browser whose form is refused is sent to the site's own 403 page (a redirect: a reload does not post again)", async () => {
    const v = new Visitor(demo.url);
    await v.post('/cart/add', { item: 'tea' });
    const html = { accept: 'text/html,application/xhtml+xml', 'sec-fetch-site': 'cross-site' };
    const refused = await v.post('/cart/add', { item: 'mug' }, { headers: html });
    assert.equal(refused.status, 303);
    assert.equal(refused.headers.get('location'), '/forbidden?reason=cross-site');
    const page = await v.fetch('/forbidden?reason=cross-site', { headers: { accept: 'text/html' } });
    assert.equal(page.status, 403);
    const text = await page.text();
    assert.match(text, /<h1>Form not accepted<\/h1>/);
    assert.match(text, /sent from a page of another site/);
    assert.match(text, /Nothing was changed/);
    assert.match(text, /<a class="button" href="\/cart">Back to your cart<\/a>/);
    assert.match(text, /<link rel="stylesheet" href="\/style.css">/, 'a page of the site');
    assert.deepEqual(
      (await v.json('/cart.json')).items.map((i: { id: string }) => i.id),
      ['tea'],
      'nothing changed',
    );
    const sameOrigin = await v.post(
      '/cart/add',
      { item: 'mug', csrf_token: '' },
      { headers: { ...html, 'sec-fetch-site': 'same-origin' } },
    );
    assert.equal(sameOrigin.status, 303, 'a form of this site passes on Sec-Fetch-Site, whatever token its page had');
    assert.equal(sameOrigin.headers.get('location'), '/cart');
  });

  test("a browser's refused cart form is redirected to the page that shows it (a reload posts nothing); a script gets 400", async () => {
    const v = new Visitor(demo.url);
    const html = { accept: 'text/html,application/xhtml+xml' };
    const bad = await v.post('/cart/add', { item: 'mug', qty: '1e1' }, { headers: html });
    assert.equal(bad.status, 303);
    assert.equal(bad.headers.get('location'), '/shop?refused=qty&item=mug&qty=1e1');
    const shown = await v.fetch('/shop?refused=qty&item=mug&qty=1e1', { headers: html });
    assert.equal(shown.status, 400);
    const page = await shown.text();
    assert.match(page, /<p class="error" role="alert">The quantity must be a whole number from 1 to 99, written in digits\.<\/p>/);
    assert.match(page, /value="mug">\s*<input name="qty" type="number" value="1e1"/);
    assert.equal(v.cookie, null, 'nothing stored');
    const made = await v.fetch('/shop?refused=<b>anything</b>', { headers: html });
    assert.equal(made.status, 200, 'only known refusals are shown: no text of the address reaches the page');
    assert.doesNotMatch(await made.text(), /anything/);
    await v.post('/cart/add', { item: 'tea' });
    const update = await v.post('/cart/update', { item: 'pen', qty: '2' }, { headers: html });
    assert.equal(update.headers.get('location'), '/cart?refused=not-in-cart');
    assert.match(await (await v.fetch('/cart?refused=not-in-cart', { headers: html })).text(), /That item is not in your cart\./);
  });

  test('messages after update and remove; a favicon; Sign out in the header of a signed-in visitor', async () => {
    const v = new Visitor(demo.url);
    await v.post('/cart/add', { item: 'tea' });
    await v.post('/cart/add', { item: 'mug' });
    await v.fetch('/cart');
    await v.post('/cart/update', { item: 'tea', qty: '4' });
    assert.match(await (await v.fetch('/cart')).text(), /<p class="notice" role="status">Updated Earl Grey tea, 100 g to 4<\/p>/);
    await v.post('/cart/update', { item: 'tea', qty: '0' });
    assert.match(await (await v.fetch('/cart')).text(), /<p class="notice" role="status">Removed Earl Grey tea, 100 g from your cart<\/p>/);
    await v.post('/cart/remove', { item: 'mug' });
    assert.match(await (await v.fetch('/cart')).text(), /<p class="notice" role="status">Removed Enamel mug from your cart<\/p>/);
    for (const path of ['/favicon.svg', '/favicon.ico']) {
      const icon = await fetch(`${demo.url}${path}`);
      assert.equal(icon.status, 200, path);
      assert.equal(icon.headers.get('content-type'), 'image/svg+xml; charset=utf-8');
      assert.match(await icon.text(), /^<svg /);
    }
    assert.match(await (await v.fetch('/')).text(), /<link rel="icon" href="\/favicon.svg" type="image\/svg\+xml">/);
    assert.doesNotMatch(await (await v.fetch('/cart')).text(), /<header>.*action="\/logout"/s, 'not signed in: no Sign out');
    await v.post('/login', { username: 'alice', password: 'wonderland' });
    const header = /<header>.*<\/header>/s.exec(await (await v.fetch('/cart')).text())![0];
    assert.match(
      header,
      /Signed in as Alice <form method="post" action="\/logout" class="inline"><input type="hidden" name="csrf_token" value="[\w-]{86}"><button class="link">Sign out<\/button><\/form>/,
    );
  });

  test('a flash message shows once: "Added Enamel mug to your cart"', async () => {
    const v = new Visitor(demo.url);
    await v.post('/cart/add', { item: 'mug' });
    assert.match(await (await v.fetch('/cart')).text(), /<p class="notice" role="status">Added Enamel mug to your cart<\/p>/);
    assert.doesNotMatch(await (await v.fetch('/cart')).text(), /class="notice"/, 'read once');
    await v.post('/cart/add', { item: 'tea', qty: '3' });
    assert.match(await (await v.fetch('/cart')).text(), /Added 3 × Earl Grey tea, 100 g to your cart/);
  });

  test('/devices lists the user’s sessions, marks this one, and signs out one or all the others', async () => {
    const agents = [
      'Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0',
      'Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1',
      'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Safari/537.36',
    ];
    const [laptop, phone, office] = agents.map((ua) => new Visitor(demo.url, ua)) as [Visitor, Visitor, Visitor];
    for (const v of [laptop, phone, office]) {
      await v.fetch('/login');
      assert.equal((await v.post('/login', { username: 'bob', password: 'builder' })).status, 303);
    }
    const page = await (await office.fetch('/devices')).text();
    for (const name of ['Firefox on Linux', 'Safari on iOS', 'Chrome on Windows']) assert.ok(page.includes(name), name);
    assert.match(page, /Chrome on Windows <span class="badge">This device<\/span>/);
    assert.equal((page.match(/action="\/devices\/revoke"/g) ?? []).length, 2, 'a Sign out button per other device');
    assert.match(page, /Last seen <time datetime="[^"]+">just now<\/time> from 127\.0\.0\.1/);
    assert.match(page, /Sign out everywhere else/);

    const phoneId = /<h2 title="[^"]*iPhone[^"]*">[\s\S]*?name="id" value="([0-9a-f]{64})"/.exec(page)?.[1];
    assert.ok(phoneId);
    const out = await office.post('/devices/revoke', { id: phoneId });
    assert.equal(out.status, 303);
    assert.equal(out.headers.get('location'), '/devices');
    assert.match(await (await office.fetch('/devices')).text(), /role="status">Signed out Safari on iOS</);
    assert.doesNotMatch(await (await phone.fetch('/')).text(), /Welcome, Bob/, 'the phone is signed out at once');
    assert.match(await (await laptop.fetch('/')).text(), /Welcome, Bob/, 'the laptop is not');

    const stranger = new Visitor(demo.url);
    await stranger.fetch('/login');
    await stranger.post('/login', { username: 'alice', password: 'wonderland' });
    await stranger.fetch('/devices');
    const laptopId = /name="id" value="([0-9a-f]{64})"/.exec(await (await office.fetch('/devices')).text())![1]!;
    assert.equal((await stranger.post('/devices/revoke', { id: laptopId })).status, 400, "another user's device is not yours to sign out");
    assert.match(await (await laptop.fetch('/')).text(), /Welcome, Bob/);

    await phone.fetch('/login');
    await phone.post('/login', { username: 'bob', password: 'builder' });
    await office.fetch('/devices');
    assert.equal((await office.post('/devices/revoke-others', {})).status, 303);
    const after = await (await office.fetch('/devices')).text();
    assert.match(after, /role="status">Signed out 2 other devices</);
    assert.match(after, /You are signed in on this device only/);
    for (const v of [laptop, phone]) assert.doesNotMatch(await (await v.fetch('/')).text(), /Welcome, Bob/);
    assert.match(await (await office.fetch('/')).text(), /Welcome, Bob/);
    assert.match(await (await new Visitor(demo.url).fetch('/devices')).text(), /Sign in to see where you are signed in/);
  });

  test('a secret is generated into ./data/secret on the first start', () => {
    const file = join(dir.dir, 'data/secret');
    assert.ok(readFileSync(file, 'utf8').trim().length >= 40);
    assert.equal(statSync(file).mode & 0o777, 0o600);
  });

  test('SESSION_STORE=cookie: keeps the session in a signed cookie', async () => {
    const d = demoDir();
    const cookieDemo = await startDemo({ cwd: d.dir, port: await freePort(), env: { SESSION_STORE: 'cookie:' } });
    try {
      const v = new Visitor(cookieDemo.url);
      await v.fetch('/count');
      assert.equal(await (await v.fetch('/count')).text(), 'Count: 2');
      assert.match(v.cookie!, /:/); // Django's signed format, not a random key
      v.cookie = v.cookie!.replace(/^./, (c) => (c === 'a' ? 'b' : 'a'));
      assert.equal(await (await v.fetch('/count')).text(), 'Count: 1', 'a tampered cookie is not trusted');
      await v.fetch('/login');
      await v.post('/login', { username: 'alice', password: 'wonderland' });
      assert.match(await (await v.fetch('/devices')).text(), /the server has no list of them/);
    } finally {
      assert.equal(await cookieDemo.stop(), 0);
      d.remove();
    }
  });

  test('bad settings stop the start with a message naming the setting', async () => {
    const d = demoDir();
    try {
      const inUse = new URL(demo.url).port;
      await assert.rejects(
        startDemo({ cwd: d.dir, port: Number(inUse) }),
        new RegExp(`exited with 1[\\s\\S]*cannot listen on 127\\.0\\.0\\.1:${inUse}: .*EADDRINUSE`),
      );
      await assert.rejects(
        startDemo({ cwd: d.dir, port: 1, env: { PORT: 'eighty' } }),
        /exited with 1[\s\S]*PORT must be a port number, got "eighty"/,
      );
      await assert.rejects(
        startDemo({ cwd: d.dir, port: 1, env: { SESSION_STORE: 'mysql://x' } }),
        /exited with 1[\s\S]*SESSION_STORE=mysql:\/\/x: sessionkit: .*not a store URL/,
      );
    } finally {
      d.remove();
    }
  });

  test('SIGTERM shuts the server down cleanly (exit code 0)', async () => {
    assert.equal(await demo.stop(), 0);
  });
});
