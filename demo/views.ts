// Server-rendered pages. Every interpolated value is escaped unless it is already Html.
import type { UserSession } from 'sessionkit';
import { type Answers, lesson, questions, triesOf } from './learn.js';

export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

function render(value: unknown): string {
  if (value instanceof Html) return value.text;
  if (Array.isArray(value)) return value.map(render).join('');
  if (value === null || value === undefined || value === false) return '';
  return String(value).replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** A template tag that escapes what it interpolates. */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  return new Html(strings.reduce((out, s, i) => out + render(values[i - 1]) + s));
}

export const money = (n: number) => `€${n.toFixed(2)}`;

export interface Visitor {
  user: string | null;
  cartCount: number;
  /** The session's CSRF token, or null for a visitor without a session (who gets none, so nothing is stored). */
  csrf: string | null;
  /** A flash message from the request before the redirect. */
  notice: string | null;
}

/**
 * Every POST form gets the session's CSRF token as its first field, in one place, so no form
 * can forget it (as Django's {% csrf_token %}, but without a tag to leave out).
 */
function withCsrf(page: string, token: string | null): string {
  if (token === null) return page;
  const field = html`<input type="hidden" name="csrf_token" value="${token}">`.text;
  return page.replace(/<form method="post"[^>]*>/g, (form) => form + field);
}

export function page(title: string, visitor: Visitor, body: Html): string {
  return withCsrf(page0(title, visitor, body), visitor.csrf);
}

function page0(title: string, visitor: Visitor, body: Html): string {
  return html`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · sessionkit demo</title><link rel="icon" href="/favicon.svg" type="image/svg+xml"><link rel="stylesheet" href="/style.css"></head>
<body>
<header><a class="brand" href="/">sessionkit shop</a>
<nav><a href="/shop">Shop</a> <a href="/cart">Cart (${visitor.cartCount})</a> <a href="/learn">Learn</a> <a href="/count">Counter</a> <a href="/color">Color</a>${visitor.user ? html` <a href="/devices">Devices</a>` : ''}</nav>
<span class="who">${
    visitor.user
      ? html`Signed in as ${visitor.user} <form method="post" action="/logout" class="inline"><button class="link">Sign out</button></form>`
      : html`Not signed in · <a href="/login">Sign in</a>`
  }</span></header>
<main>${visitor.notice ? html`<p class="notice" role="status">${visitor.notice}</p>` : ''}<h1>${title}</h1>
${body}</main>
<footer><a href="/session">What this site remembers about you</a> · a demo of sessionkit</footer>
</body>
</html>
`.text;
}

export function loginForm(error?: string): Html {
  return html`<form method="post" action="/login" class="card">
${error ? html`<p class="error" role="alert">${error}</p>` : ''}
<label>Username <input name="username" autocomplete="username" required></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button>Sign in</button>
<p class="hint">Try alice / wonderland or bob / builder.</p>
</form>`;
}

function signedIn(name: string): Html {
  return html`<p class="welcome">Welcome, ${name}</p>
<p><a href="/devices">Your devices</a>: where else you are signed in. Sign out from the top of any page.</p>`;
}

/** GET /login: the form, or who is signed in. */
export function login(name: string | null, error?: string): Html {
  return name ? signedIn(name) : loginForm(error);
}

export function colorForm(error?: string): Html {
  return html`${error ? html`<p class="error" role="alert">${error}</p>` : ''}
<form method="get" action="/color/set"><label>Your favorite color <input name="color" placeholder="teal" maxlength="40" required></label> <button>Save</button></form>`;
}

export function home(name: string | null, color: string | undefined, error?: string): Html {
  return html`${name ? signedIn(name) : loginForm(error)}
<section class="card"><h2>Favorite color</h2>
<p>${color ? html`Yours is <strong>${color}</strong>.` : 'You have not picked one yet.'}</p>
${colorForm()}</section>
<section><h2>Try it</h2><ul>
<li><a href="/shop">Shop</a>: put things in a cart that follows you across pages, logins and restarts.</li>
<li><a href="/count">/count</a>: a visit counter, one per visitor.</li>
<li><a href="/color">/color</a>: the color you saved above.</li>
<li><a href="/learn">Learn</a>: why sessions matter, with ${questions.length} practice questions.</li>
<li><a href="/session">/session</a>: everything this site keeps about you (also as <a href="/session.json">JSON</a>).</li>
</ul></section>`;
}

export interface Product {
  id: string;
  name: string;
  price: number;
}

/** A refused form: the message, the item it is about and what was typed. */
export interface Refusal {
  message: string;
  item?: string;
  qty?: string;
}

/**
 * The text of a counter, color or saved-color answer. Scripts get it alone as text/plain; a
 * browser gets it in a page of the site (content negotiation on Accept).
 */
export function result(text: string, more?: Html): Html {
  return html`<p class="result">${text}</p>${more ?? ''}`;
}

export function shop(products: Product[], refusal?: Refusal): Html {
  return html`${refusal ? html`<p class="error" role="alert">${refusal.message}</p>` : ''}
<ul class="products">${products.map((p) => {
    const mine = refusal?.item === p.id;
    return html`<li class="card"><h2>${p.name}</h2><p class="price">${money(p.price)}</p>
<form method="post" action="/cart/add"><input type="hidden" name="item" value="${p.id}">
<input name="qty" type="number" value="${mine && refusal?.qty !== undefined ? refusal.qty : '1'}" min="1" max="99" aria-label="Quantity"${mine ? html` aria-invalid="true"` : ''}> <button>Add to cart</button></form></li>`;
  })}</ul>`;
}

export interface Line extends Product {
  qty: number;
}

export function cart(items: Line[], total: number, refusal?: Refusal): Html {
  const alert = refusal ? html`<p class="error" role="alert">${refusal.message}</p>` : '';
  if (items.length === 0) return html`${alert}<p>Your cart is empty. <a href="/shop">Go shopping</a>.</p>`;
  return html`${alert}<table class="cart"><thead><tr><th>Item</th><th>Qty</th><th>Price</th><th>Subtotal</th><th>Change</th></tr></thead><tbody>
${items.map(
  (l) => html`<tr><td>${l.name}</td><td class="qty">${l.qty}</td><td>${money(l.price)}</td><td>${money(l.price * l.qty)}</td>
<td class="edit"><form method="post" action="/cart/update"><input type="hidden" name="item" value="${l.id}">
<input name="qty" type="number" value="${refusal?.item === l.id && refusal.qty !== undefined ? refusal.qty : l.qty}" min="0" max="99" aria-label="New quantity of ${l.name}"> <button>Update</button></form>
<form method="post" action="/cart/remove"><input type="hidden" name="item" value="${l.id}"><button class="secondary" aria-label="Remove ${l.name}">Remove</button></form></td></tr>`,
)}
</tbody><tfoot><tr><th colspan="3">Total</th><th class="total">${money(total)}</th><th></th></tr></tfoot></table>
<form method="post" action="/cart/checkout"><button>Check out</button></form>
<p class="hint">Also as <a href="/cart.json">JSON</a>.</p>`;
}

export function order(number: string, total: number): Html {
  return html`<p>Thank you! Your order number is <strong class="order">${number}</strong> (${money(total)}).</p>
<p>Your cart is empty again. <a href="/shop">Keep shopping</a>.</p>`;
}

export function learn(answers: Answers): Html {
  const correct = questions.filter((q) => triesOf(answers, q.id)[0] === q.answer).length;
  const answered = questions.filter((q) => triesOf(answers, q.id).length > 0).length;
  return html`<section class="lesson"><p>${lesson.problem}</p><p>${lesson.idea}</p>
<p>Before: trusting the request.</p><pre><code>${lesson.before}</code></pre>
<p>After: asking the session.</p><pre><code>${lesson.after}</code></pre>
<ul>${lesson.takeaways.map((t) => html`<li>${t}</li>`)}</ul></section>
<h2>Practice</h2><p class="score">Score so far: ${correct} of ${questions.length}</p>
<p class="hint">${answered} of ${questions.length} answered; only an answer right at the first try counts.</p>
${questions.map((q) => {
  const tries = triesOf(answers, q.id);
  const chosen = tries.at(-1);
  return html`<section class="card question" id="q${q.id}"><h3>${q.id}. ${q.prompt}</h3>
${q.code ? html`<pre><code>${q.code}</code></pre>` : ''}
<form method="post" action="/learn/answer#q${q.id}"><input type="hidden" name="question" value="${q.id}">
${Object.entries(q.choices).map(
  ([id, text]) =>
    html`<label class="choice"><input type="radio" name="choice" value="${id}" required${chosen === id ? html` checked` : ''}> ${id.toUpperCase()}. ${q.codeChoices ? html`<code>${text}</code>` : text}</label>`,
)}
<button>Check</button></form>
${
  chosen === undefined
    ? ''
    : html`<div class="${chosen === q.answer ? 'right' : 'wrong'}">
<p class="verdict">${
        chosen !== q.answer
          ? `Wrong: the answer is ${q.answer.toUpperCase()}.`
          : tries.length === 1
            ? 'Right!'
            : 'Right, at a later try: only a first try counts toward the score.'
      }</p>
<ol class="steps">${q.steps.map((s, i) => html`<li>Step ${i + 1}: ${s}</li>`)}</ol>
<p>Common mistakes:</p><ul>${q.mistakes.map((m) => html`<li>${m}</li>`)}</ul></div>`
}
</section>`;
})}`;
}

export interface SessionView {
  cookie: string | null;
  signedData: boolean;
  data: Record<string, unknown>;
  expiresAt: Date | null;
  ageSeconds: number;
}

export function sessionPage(v: SessionView): Html {
  if (v.cookie === null) {
    return html`<p class="note">Nothing is stored about you yet, and your browser holds no session cookie from this site.
Count a <a href="/count">visit</a> or add something to your <a href="/shop">cart</a>, then come back.</p>`;
  }
  const days = Math.floor(v.ageSeconds / 86400);
  const hours = Math.floor((v.ageSeconds % 86400) / 3600);
  return html`<h2>The cookie your browser holds</h2>
<pre><code class="cookie">${v.cookie}</code></pre>
${
  v.signedData
    ? html`<p>The whole session, signed so that it cannot be changed without the server noticing; page scripts cannot read it (HttpOnly).</p>
<h2>What it holds</h2>`
    : html`<p>Only a random key: it means nothing by itself, and page scripts cannot read it (HttpOnly).</p>
<h2>What the server keeps under that key</h2>`
}
<pre><code class="data">${JSON.stringify(v.data, null, 2)}</code></pre>
<h2>Until when</h2>
<p>Expires <time datetime="${v.expiresAt?.toISOString()}">${v.expiresAt?.toUTCString()}</time>,
in ${days} days and ${hours} hours; every change to the session renews this. Also as <a href="/session.json">JSON</a>.</p>`;
}

/** The order placed last, shown after the redirect that follows the checkout's POST. */
export function noOrder(): Html {
  return html`<p>You have not placed an order yet. <a href="/shop">Go shopping</a>.</p>`;
}

export function notFound(path: string): Html {
  return html`<p class="error" role="alert">There is no page at ${path}.</p>
<p>Try the <a href="/shop">shop</a>, your <a href="/cart">cart</a> or the <a href="/learn">lesson</a>, or go <a href="/">back home</a>.</p>`;
}

/** A short name for a user agent: "Firefox on Linux", "Chrome on Android"; the raw string stays in the page's title attribute. */
const BROWSERS: [RegExp, string][] = [
  [/Edg\//, 'Edge'],
  [/OPR\/|Opera/, 'Opera'],
  [/Firefox\//, 'Firefox'],
  [/HeadlessChrome\//, 'Headless Chrome'],
  [/Chrome\/|Chromium\//, 'Chrome'],
  [/Safari\//, 'Safari'],
  [/curl\//, 'curl'],
];
const SYSTEMS: [RegExp, string][] = [
  [/Android/, 'Android'],
  [/iPhone|iPad/, 'iOS'],
  [/Windows/, 'Windows'],
  [/Mac OS X|Macintosh/, 'macOS'],
  [/CrOS/, 'ChromeOS'],
  [/Linux/, 'Linux'],
];

/** A short name for a user agent: "Firefox on Linux", "Chrome on Android" (the page shows the whole string too). */
export function deviceName(userAgent: string | null): string {
  if (!userAgent) return 'An unknown browser';
  const browser = BROWSERS.find(([re]) => re.test(userAgent))?.[1];
  const system = SYSTEMS.find(([re]) => re.test(userAgent))?.[1];
  if (browser && system) return `${browser} on ${system}`;
  return browser ?? system ?? (userAgent.length > 40 ? `${userAgent.slice(0, 40)}…` : userAgent);
}

function ago(date: Date | null, now: number): string {
  if (date === null) return 'unknown';
  const s = Math.max(0, Math.round((now - date.getTime()) / 1000));
  if (s < 60) return 'just now';
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} days ago`;
}

export function devices(list: UserSession[], current: string | null, now: number): Html {
  const others = list.filter((d) => d.id !== current).length;
  return html`<p>Every browser signed in as you. Signing one out ends its session at once, on every server.</p>
<ul class="devices">${list.map((d) => {
    const here = d.id === current;
    const bound = d.deviceBound
      ? html` <span class="badge bound" title="Its session is bound to a key on the device: a copy of its cookie is useless elsewhere">Bound to its device</span>`
      : '';
    return html`<li class="card device${here ? ' current' : ''}"><h2 title="${d.userAgent ?? ''}">${deviceName(d.userAgent)}${here ? html` <span class="badge">This device</span>` : ''}${bound}</h2>
<p class="agent"><code>${d.userAgent ?? 'no user agent sent'}</code></p>
<p>Last seen <time datetime="${d.lastSeenAt?.toISOString()}">${ago(d.lastSeenAt, now)}</time>${d.ip ? ` from ${d.ip}` : ''} · signed in <time datetime="${d.createdAt?.toISOString()}">${ago(d.createdAt, now)}</time></p>
${
  here
    ? html`<form method="post" action="/logout"><button>Sign out</button></form>`
    : html`<form method="post" action="/devices/revoke"><input type="hidden" name="id" value="${d.id}"><button aria-label="Sign out ${deviceName(d.userAgent)}">Sign out</button></form>`
}</li>`;
  })}</ul>
${others > 0 ? html`<form method="post" action="/devices/revoke-others"><button class="secondary">Sign out everywhere else</button></form>` : html`<p class="hint">You are signed in on this device only.</p>`}`;
}

/** "Sign out everywhere else" after a sign-in older than five minutes: the password again. */
export function reauth(error?: string): Html {
  return html`<form method="post" action="/devices/revoke-others" class="card">
${error ? html`<p class="error" role="alert">${error}</p>` : ''}
<p>You signed in more than five minutes ago. Enter your password again to sign out everywhere else.</p>
<label>Password <input name="password" type="password" autocomplete="current-password" required autofocus></label>
<button>Sign out everywhere else</button>
<p><a href="/devices">Cancel</a></p>
</form>`;
}

export function devicesSignedOut(): Html {
  return html`<p>Sign in to see where you are signed in.</p>${loginForm()}`;
}

export function devicesUnsupported(): Html {
  return html`<p class="note">This demo keeps sessions in signed cookies (SESSION_STORE=cookie:), so the server has no list of them and cannot sign a device out.</p>`;
}

export function problem(message: string): Html {
  return html`<p class="error" role="alert">${message}</p><p><a href="/">Back home</a></p>`;
}

/** Why a form was refused (csrfProtection's reason), in words for the visitor. */
const REFUSALS: Record<string, string> = {
  'cross-site': 'It was sent from a page of another site. Sites cannot act on your behalf here, so it was not carried out.',
  origin: 'It was sent from a page of another site. Sites cannot act on your behalf here, so it was not carried out.',
  token:
    'It came without the code that shows it was sent from a page of this site (your browser sent no origin), so it was not carried out.',
  'too-large': 'It was too large to be checked, so it was not carried out.',
};

/** The page after a refused form (403): what happened, that nothing changed, and ways back. */
export function forbidden(reason: string): Html {
  return html`<section class="card refused"><p class="error" role="alert">We could not accept that form.</p>
<p>${REFUSALS[reason] ?? REFUSALS.token}</p>
<p>Nothing was changed: your cart and your sign-in are as they were.</p>
<p>If you sent it yourself from this site, go back, reload the page and try again.</p>
<p class="actions"><a class="button" href="/cart">Back to your cart</a> <a href="/shop">Shop</a> · <a href="/">Home</a></p></section>`;
}

/** The site's icon (an SVG: one file for every size). */
export const FAVICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><rect width="64" height="64" rx="14" fill="#0f766e"/><path d="M18 24h28l-3 22H21z" fill="none" stroke="#fff" stroke-width="5" stroke-linejoin="round"/><path d="M25 24a7 7 0 0 1 14 0" fill="none" stroke="#fff" stroke-width="5"/></svg>
`;
