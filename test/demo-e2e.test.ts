// The demo shop in a real browser (Debian's chromium via playwright-core), against the app
// started as a user starts it, including a restart of its process.
import assert from 'node:assert/strict';
import { mkdirSync, statSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { demoDir, freePort, startDemo, type Demo } from './support/demo.js';

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
  '--disable-quic',
];
const outputDir = new URL('../test-output/', import.meta.url);

let demo: Demo;
let browser: Browser;
let port: number;
const dir = demoDir();
const contexts: BrowserContext[] = [];

async function visitor(): Promise<Page> {
  const context = await browser.newContext({ baseURL: demo.url });
  contexts.push(context);
  return context.newPage();
}

async function sessionCookie(page: Page) {
  return (await page.context().cookies()).find((c) => c.name === 'sessionid');
}

/** What a later request with this cookie finds, asked without a browser. */
async function storedUnder(key: string): Promise<any> {
  return (await fetch(`${demo.url}/session.json`, { headers: { cookie: `sessionid=${key}` } })).json();
}

async function body(page: Page, path: string): Promise<string> {
  await page.goto(path);
  return page.innerText('body');
}

async function addToCart(page: Page, item: string, qty = 1) {
  await page.goto('/shop');
  const card = page.locator('li.card', { has: page.locator(`input[name=item][value="${item}"]`) });
  await card.locator('input[name=qty]').fill(String(qty));
  await card.getByRole('button', { name: 'Add to cart' }).click();
  await page.waitForURL('**/cart');
}

async function login(page: Page, username: string, password: string) {
  await page.goto('/');
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForSelector('.welcome');
}

async function answer(page: Page, question: number, choice: string) {
  await page.goto('/learn');
  await page.locator(`#q${question} input[value="${choice}"]`).check();
  await page.locator(`#q${question} button`).click();
  await page.waitForURL(`**/learn#q${question}`);
}

before(async () => {
  port = await freePort();
  [demo, browser] = await Promise.all([
    startDemo({ cwd: dir.dir, port }),
    chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS }),
  ]);
});

after(async () => {
  await browser?.close();
  await demo?.stop();
  dir.remove();
});

describe('demo shop in a browser', () => {
  let shopper: Page; // carries a cart, a login and learn progress across the restart

  test('the counter reaches 3; another browser context is another visitor and starts at 1', async () => {
    const a = await visitor();
    for (const n of [1, 2, 3]) assert.equal(await body(a, '/count'), `Count: ${n}`);
    const b = await visitor();
    assert.equal(await body(b, '/count'), 'Count: 1');
  });

  test('the cookie jar holds sessionid, HttpOnly and SameSite=Lax, and only a random key', async () => {
    const page = await visitor();
    await page.goto('/count');
    const cookie = await sessionCookie(page);
    assert.ok(cookie);
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, 'Lax');
    assert.match(cookie.value, /^[a-z0-9]{32}$/);
    assert.equal(await page.evaluate('document.cookie'), '', 'page scripts cannot read it');
    assert.match(await body(page, '/session'), new RegExp(`sessionid=${cookie.value}`));
  });

  test('a visitor who only looked at /shop gets no cookie at all', async () => {
    const page = await visitor();
    await page.goto('/shop');
    assert.match(await page.innerText('main'), /Enamel mug/);
    assert.deepEqual(await page.context().cookies(), []);
  });

  test('the colour set on one page is shown on another', async () => {
    const page = await visitor();
    await page.goto('/');
    await page.locator('input[name=color]').fill('teal');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.waitForURL('**/color/set?color=teal');
    assert.equal(await page.innerText('body'), 'Color saved');
    assert.equal(await body(page, '/color'), 'Favorite color: teal');
    assert.match(await body(page, '/'), /Yours is teal/);
  });

  test('logging in changes the session key and keeps the cart', async () => {
    shopper = await visitor();
    await addToCart(shopper, 'mug', 2);
    await addToCart(shopper, 'tea');
    const before = (await sessionCookie(shopper))!.value;
    await login(shopper, 'alice', 'wonderland');
    assert.match(await shopper.innerText('.welcome'), /Welcome, Alice/);
    const afterLogin = (await sessionCookie(shopper))!.value;
    assert.notEqual(afterLogin, before);
    assert.equal((await storedUnder(before)).stored, false, 'the pre-login key loads nothing');
    const cart = await body(shopper, '/cart');
    assert.match(cart, /Enamel mug\s+2/);
    assert.match(cart, /Total\s+€30\.50/);
    mkdirSync(outputDir, { recursive: true });
    const shot = new URL('demo-cart.png', outputDir);
    await shopper.screenshot({ path: shot.pathname, fullPage: true });
    assert.ok(statSync(shot).size > 5_000);
  });

  test('learn: one right and one wrong answer score 1 of 2', async () => {
    await answer(shopper, 3, 'b');
    assert.match(await shopper.innerText('#q3'), /Right!/);
    await answer(shopper, 4, 'd');
    const q4 = await shopper.innerText('#q4');
    assert.match(q4, /Wrong: the answer is A\./);
    assert.match(q4, /Step 2: require\('user'\) demands the key/);
    assert.match(q4, /Common mistakes/);
    assert.match(await shopper.innerText('.score'), /Score so far: 1 of 2/);
  });

  test('the cart, the login and the learn progress survive a restart of the server process', async () => {
    assert.equal(await demo.stop(), 0, 'clean shutdown on SIGTERM');
    demo = await startDemo({ cwd: dir.dir, port });
    assert.match(await body(shopper, '/'), /Welcome, Alice/);
    assert.match(await body(shopper, '/cart'), /Enamel mug\s+2/);
    assert.match(await body(shopper, '/learn'), /Score so far: 1 of 2/);
  });

  test('logging out clears the cart, the counter and the cookie; the old key loads nothing', async () => {
    await body(shopper, '/count');
    assert.equal(await body(shopper, '/count'), 'Count: 2');
    const key = (await sessionCookie(shopper))!.value;
    await shopper.goto('/');
    await shopper.getByRole('button', { name: 'Sign out' }).click();
    await shopper.waitForSelector('form[action="/login"]');
    assert.equal(await sessionCookie(shopper), undefined);
    assert.deepEqual(await storedUnder(key), { stored: false, data: {}, expiresAt: null });
    assert.match(await body(shopper, '/cart'), /Your cart is empty/);
    assert.equal(await body(shopper, '/count'), 'Count: 1');
  });
});
