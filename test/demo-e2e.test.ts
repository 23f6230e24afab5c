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
/** The browser's own, for functions that run in the page (the typecheck has no DOM library). */
declare function getComputedStyle(element: unknown): { display: string; listStyleType: string };

const outputDir = new URL('../test-output/', import.meta.url);

let demo: Demo;
let browser: Browser;
let port: number;
const dir = demoDir();
const contexts: BrowserContext[] = [];

/** The screen widths the flows are checked at: a laptop and a phone. */
const WIDTHS = [1280, 390] as const;

async function visitor(userAgent?: string, width?: number): Promise<Page> {
  const viewport = width === undefined ? {} : { viewport: { width, height: width > 600 ? 800 : 844 } };
  const context = await browser.newContext({ baseURL: demo.url, ...(userAgent ? { userAgent } : {}), ...viewport });
  contexts.push(context);
  return context.newPage();
}

/** A full-page screenshot into test-output/. */
async function shoot(page: Page, name: string): Promise<void> {
  mkdirSync(outputDir, { recursive: true });
  const file = new URL(name, outputDir);
  await page.screenshot({ path: file.pathname, fullPage: true });
  assert.ok(statSync(file).size > 5_000, name);
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

/** The bare answer of /count, /color or /color/set, shown inside a page of the site. */
async function result(page: Page, path: string): Promise<string> {
  await page.goto(path);
  assert.equal(await page.locator('header nav a').first().innerText(), 'Shop', `${path} has the site's navigation`);
  return page.innerText('.result');
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
    for (const n of [1, 2, 3]) assert.equal(await result(a, '/count'), `Count: ${n}`);
    const b = await visitor();
    assert.equal(await result(b, '/count'), 'Count: 1');
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
    assert.equal(await page.innerText('.result'), 'Color saved');
    assert.equal(await result(page, '/color'), 'Favorite color: teal');
    await page.getByLabel('Your favorite color').fill('plum');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.waitForURL('**/color/set?color=plum');
    assert.equal(await result(page, '/color'), 'Favorite color: plum');
    assert.match(await body(page, '/'), /Yours is plum/);
  });

  test('an unknown address shows a styled 404 page with the navigation', async () => {
    const page = await visitor();
    const res = await page.goto('/nowhere');
    assert.equal(res?.status(), 404);
    assert.match(await page.innerText('main'), /Page not found\s+There is no page at \/nowhere\./);
    assert.equal(await page.locator('header').evaluate((h) => getComputedStyle(h).display), 'flex', 'the stylesheet applies');
    await page.getByRole('link', { name: 'Shop', exact: true }).click();
    await page.waitForURL('**/shop');
  });

  test('the cart can be edited, refuses a bad quantity with the form, and checkout survives a reload', async () => {
    const page = await visitor();
    await addToCart(page, 'tea', 3);
    await addToCart(page, 'pen');
    await page.getByLabel('New quantity of Earl Grey tea, 100 g').fill('5');
    await page.locator('tr', { hasText: 'Earl Grey' }).getByRole('button', { name: 'Update' }).click();
    await page.waitForURL('**/cart');
    assert.match(await page.innerText('table.cart'), /Earl Grey tea, 100 g\s+5/);
    await page.getByRole('button', { name: 'Remove Fountain pen' }).click();
    await page.waitForURL('**/cart');
    assert.doesNotMatch(await page.innerText('table.cart'), /Fountain pen/);

    await page.goto('/shop');
    const card = page.locator('li.card', { has: page.locator('input[name=item][value="mug"]') });
    // what a script or an old browser can send past the number field
    await card.locator('input[name=qty]').evaluate((input) => {
      const field = input as unknown as { type: string; value: string };
      field.type = 'text';
      field.value = '1e1';
    });
    await card.getByRole('button', { name: 'Add to cart' }).click();
    assert.match(await page.innerText('[role=alert]'), /The quantity must be a whole number from 1 to 99/);
    assert.equal(await page.locator('form[action="/cart/add"]').count(), 5, 'the shop is shown again');
    assert.equal(await card.locator('input[name=qty]').inputValue(), '1e1', 'with what was typed');
    const again = await page.reload();
    assert.equal(again?.request().method(), 'GET', 'a reload after a refused form posts nothing again');
    assert.match(await page.innerText('[role=alert]'), /The quantity must be a whole number from 1 to 99/);

    await page.goto('/cart');
    await page.getByRole('button', { name: 'Check out' }).click();
    await page.waitForURL('**/order');
    const number = await page.innerText('.order');
    await page.reload();
    assert.equal(await page.innerText('.order'), number, 'a reload shows the order and places no other');
    assert.match(await body(page, '/cart'), /Your cart is empty/);
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

  test('learn: one right and one wrong answer score 1 of 6; steps are numbered once', async () => {
    await answer(shopper, 3, 'b');
    assert.match(await shopper.innerText('#q3'), /Right!/);
    await answer(shopper, 4, 'd');
    const q4 = await shopper.innerText('#q4');
    assert.match(q4, /Wrong: the answer is A\./);
    assert.match(q4, /Step 2: require\('user'\) demands the key/);
    assert.match(q4, /Common mistakes/);
    assert.equal(await shopper.locator('#q4 ol.steps').evaluate((ol) => getComputedStyle(ol).listStyleType), 'none');
    assert.match(await shopper.innerText('.score'), /Score so far: 1 of 6/);
    await answer(shopper, 4, 'a');
    assert.match(await shopper.innerText('#q4'), /Right, at a later try/);
    assert.match(await shopper.innerText('.score'), /Score so far: 1 of 6/, 'a corrected answer does not count');
  });

  test('the cart, the login and the learn progress survive a restart of the server process', async () => {
    assert.equal(await demo.stop(), 0, 'clean shutdown on SIGTERM');
    demo = await startDemo({ cwd: dir.dir, port });
    assert.match(await body(shopper, '/'), /Welcome, Alice/);
    assert.match(await body(shopper, '/cart'), /Enamel mug\s+2/);
    assert.match(await body(shopper, '/learn'), /Score so far: 1 of 6/);
  });

  test('three browsers signed in as one user: the devices page lists them, signs one out, then all the others', async () => {
    const agents = {
      laptop: 'Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0',
      phone: 'Mozilla/5.0 (Linux; Android 15; Pixel 9) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Mobile Safari/537.36',
      office:
        'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Safari/537.36 Edg/140.0.0.0',
    };
    const laptop = await visitor(agents.laptop);
    const phone = await visitor(agents.phone);
    const office = await visitor(agents.office);
    for (const page of [laptop, phone, office]) await login(page, 'bob', 'builder');

    await office.goto('/devices');
    const cards = office.locator('li.device');
    assert.equal(await cards.count(), 3);
    assert.deepEqual(
      await office.locator('li.device h2').allInnerTexts(),
      ['Edge on Windows This device', 'Chrome on Android', 'Firefox on Linux'],
      'most recently seen first, this device marked',
    );
    assert.match(await cards.nth(2).innerText(), /Firefox\/140\.0/, 'the whole user agent');
    assert.match(await cards.nth(1).innerText(), /Last seen just now from 127\.0\.0\.1/);
    mkdirSync(outputDir, { recursive: true });
    await office.screenshot({ path: new URL('demo-devices.png', outputDir).pathname, fullPage: true });

    await office.getByRole('button', { name: 'Sign out Chrome on Android' }).click();
    await office.waitForURL('**/devices');
    assert.equal(await office.innerText('.notice'), 'Signed out Chrome on Android');
    assert.equal(await office.locator('li.device').count(), 2);
    assert.match(await body(phone, '/'), /Not signed in/, 'the phone is signed out on its next request');
    assert.match(await body(laptop, '/'), /Welcome, Bob/);

    await login(phone, 'bob', 'builder');
    await office.goto('/devices');
    await office.getByRole('button', { name: 'Sign out everywhere else' }).click();
    await office.waitForURL('**/devices');
    assert.equal(await office.innerText('.notice'), 'Signed out 2 other devices');
    assert.match(await office.innerText('main'), /You are signed in on this device only/);
    await office.reload();
    assert.equal(await office.locator('.notice').count(), 0, 'a flash message shows once');
    for (const page of [laptop, phone]) assert.match(await body(page, '/'), /Not signed in/);
    assert.match(await body(office, '/'), /Welcome, Bob/);
  });

  test("a form posted from another site gets the site's own 403 page, a reload posts nothing, and the visitor stays signed in", async () => {
    for (const width of WIDTHS) {
      const page = await visitor(undefined, width);
      await login(page, 'alice', 'wonderland');
      await addToCart(page, 'pen');
      assert.match(await page.innerText('.notice'), /Added Fountain pen to your cart/);
      // A page of another origin (a fresh about:blank, an opaque origin) posts to the shop: the
      // browser names the other site (Sec-Fetch-Site: cross-site, Origin: null), with no token.
      await page.goto('about:blank');
      const posts: string[] = [];
      page.on('request', (r) => void (r.method() === 'POST' && posts.push(r.url())));
      await page.setContent(`<form method="post" action="${demo.url}/logout"><button>Win a prize</button></form>`);
      const [refused] = await Promise.all([
        page.waitForResponse((r) => r.url().includes('/forbidden?')),
        page.getByRole('button', { name: 'Win a prize' }).click(),
      ]);
      assert.equal(refused.status(), 403);
      assert.equal(await page.innerText('h1'), 'Form not accepted');
      assert.match(await page.innerText('main'), /sent from a page of another site[\s\S]*Nothing was changed/);
      assert.equal(await page.locator('header').evaluate((h) => getComputedStyle(h).display), 'flex', 'a page of the site, styled');
      await shoot(page, `demo-403-${width}.png`);
      const reload = await page.reload();
      assert.equal(reload?.request().method(), 'GET', 'a reload asks for the page again, it posts nothing');
      assert.equal(reload?.status(), 403);
      assert.equal(posts.length, 1, 'one POST only: the refused one');
      await page.getByRole('link', { name: 'Back to your cart' }).click();
      await page.waitForURL('**/cart');
      assert.match(await page.innerText('table.cart'), /Fountain pen/, 'nothing was changed');
      assert.match(await body(page, '/'), /Welcome, Alice/);
    }
  });

  test('two tabs of a new visitor, and a login form left open while the cart changes elsewhere: no 403, at 1280 and 390 px', async () => {
    for (const width of WIDTHS) {
      const first = await visitor(undefined, width);
      const second = await first.context().newPage();
      const statuses: number[] = [];
      for (const tab of [first, second]) tab.on('response', (r) => void statuses.push(r.status()));
      // both tabs show the shop before the visitor has any session (their forms carry no token)
      await first.goto('/shop');
      await second.goto('/shop');
      const add = async (tab: Page, item: string) => {
        const card = tab.locator('li.card', { has: tab.locator(`input[name=item][value="${item}"]`) });
        await card.getByRole('button', { name: 'Add to cart' }).click();
        await tab.waitForURL('**/cart');
      };
      await add(first, 'mug');
      await add(second, 'tea'); // its page was shown before the session existed
      assert.match(await second.innerText('table.cart'), /Enamel mug[\s\S]*Earl Grey/);
      await shoot(second, `demo-two-tabs-${width}.png`);

      // a login form open in one tab; the cart changed in the other; then sign in
      await first.goto('/login');
      await second.goto('/shop');
      await add(second, 'pen');
      await first.getByLabel('Username').fill('bob');
      await first.getByLabel('Password').fill('builder');
      await first.getByRole('button', { name: 'Sign in' }).click();
      await first.waitForSelector('.welcome');
      // and the other tab, whose page predates the login, changes the cart again
      await second.getByRole('button', { name: 'Remove Enamel mug' }).click();
      await second.waitForURL('**/cart');
      assert.equal(await second.innerText('.notice'), 'Removed Enamel mug from your cart');
      assert.match(await body(first, '/cart'), /Earl Grey[\s\S]*Fountain pen/);
      await shoot(first, `demo-login-other-tab-${width}.png`);
      assert.deepEqual(
        statuses.filter((s) => s === 403),
        [],
        `no 403 at ${width} px`,
      );
      await first.getByRole('button', { name: 'Sign out' }).click();
      await first.waitForURL('**/?signed-out');
    }
  });

  test('the cart at 390 px: no sideways scrolling, every control on screen; messages after update, remove and sign out', async () => {
    const page = await visitor(undefined, 390);
    await addToCart(page, 'tea', 2);
    await addToCart(page, 'mug');
    await login(page, 'alice', 'wonderland');
    await page.goto('/cart');
    const overflow = await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth');
    assert.equal(overflow, 0, 'nothing wider than the screen');
    for (const button of await page.locator('main button, header button').all()) {
      const box = await button.boundingBox();
      assert.ok(box && box.x >= 0 && box.x + box.width <= 390, `${await button.innerText()} is on screen`);
    }
    await shoot(page, 'demo-cart-390.png');
    await page.getByLabel('New quantity of Earl Grey tea, 100 g').fill('3');
    await page.locator('tr', { hasText: 'Earl Grey' }).getByRole('button', { name: 'Update' }).click();
    await page.waitForURL('**/cart');
    assert.equal(await page.innerText('.notice'), 'Updated Earl Grey tea, 100 g to 3');
    await page.getByRole('button', { name: 'Remove Enamel mug' }).click();
    await page.waitForURL('**/cart');
    assert.equal(await page.innerText('.notice'), 'Removed Enamel mug from your cart');
    assert.equal(await page.locator('header').getByRole('button', { name: 'Sign out' }).count(), 1, 'Sign out in the header');
    await page.locator('header').getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL('**/?signed-out');
    assert.equal(await page.innerText('.notice'), 'You have signed out.');
    assert.equal(await sessionCookie(page), undefined);
    const icon = await page.goto('/favicon.ico');
    assert.equal(icon?.status(), 200);
    assert.equal(icon?.headers()['content-type'], 'image/svg+xml; charset=utf-8');
  });

  test('logging out clears the cart, the counter and the cookie; the old key loads nothing', async () => {
    await result(shopper, '/count');
    assert.equal(await result(shopper, '/count'), 'Count: 2');
    const key = (await sessionCookie(shopper))!.value;
    await shopper.goto('/');
    await shopper.getByRole('button', { name: 'Sign out' }).click();
    await shopper.waitForSelector('form[action="/login"]');
    assert.equal(await sessionCookie(shopper), undefined);
    assert.deepEqual(await storedUnder(key), { stored: false, data: {}, expiresAt: null });
    assert.match(await body(shopper, '/cart'), /Your cart is empty/);
    assert.equal(await result(shopper, '/count'), 'Count: 1');
  });
});
