/**
 * `npm run bench -- soak`: minutes of mixed traffic on the demo shop (demo/server.ts) while its
 * store is killed and restarted every few seconds. Each client keeps what it knows of its own
 * session (its counter, the quantity of tea in its cart) as an interval [acked, acked + unsure]:
 * a 2xx write moves it up by one, a 503 write may or may not have landed (unsure + 1), and every
 * read must fall inside the interval. A read below it is a lost update, above it a phantom one.
 */
import { rssBytes } from './lib/proc.js';
import { demoDir, freePort, startDemo } from '../test/support/demo.js';
import { startPostgres } from '../test/support/postgres.js';
import { startRedis, stopAll } from '../test/support/redis.js';

export interface SoakOptions {
  minutes: number;
  /** redis (killed with SIGKILL, AOF on) or postgres (stopped and started) */
  store: string;
  killEverySeconds: number;
  /** seconds the store stays down each time */
  downSeconds: number;
  clients: number;
}

interface Tally {
  requests: number;
  ok: number;
  unavailable: number;
  otherErrors: number;
  lost: number;
  phantom: number;
  kills: number;
}

const ITEM = 'tea';

class Client {
  cookie = '';
  count = { acked: 0, unsure: 0 };
  cart = { acked: 0, unsure: 0 };
  /** a removal answered 503: the next read tells what the cart holds, unchecked */
  cartUnknown = false;
  /** the demo's CSRF token for this visitor's session (its forms carry it once there is a session) */
  csrf = '';
  constructor(
    readonly base: string,
    readonly t: Tally,
    readonly log: (s: string) => void,
  ) {}

  async #fetch(path: string, init: RequestInit = {}): Promise<Response | null> {
    this.t.requests++;
    try {
      const res = await fetch(`${this.base}${path}`, {
        ...init,
        redirect: 'manual',
        headers: { ...(init.headers as Record<string, string>), ...(this.cookie ? { cookie: this.cookie } : {}) },
        signal: AbortSignal.timeout(15_000),
      });
      for (const c of res.headers.getSetCookie()) {
        const pair = c.split(';')[0]!;
        if (pair.startsWith('sessionid=')) this.cookie = /max-age=0/i.test(c) || pair === 'sessionid=""' ? '' : pair;
      }
      if (res.status === 503) this.t.unavailable++;
      else if (res.status >= 400) this.t.otherErrors++;
      else this.t.ok++;
      return res;
    } catch {
      this.t.otherErrors++;
      return null;
    }
  }

  /** A read of `value`: checks it against what this client knows, then knows it exactly. */
  #check(what: 'count' | 'cart', k: { acked: number; unsure: number }, value: number): void {
    if (value < k.acked) {
      this.t.lost++;
      this.log(`lost update: ${what} read ${value}, acknowledged ${k.acked}`);
    } else if (value > k.acked + k.unsure) {
      this.t.phantom++;
      this.log(`phantom update: ${what} read ${value}, at most ${k.acked + k.unsure} written`);
    }
    k.acked = value;
    k.unsure = 0;
  }

  /** POSTs a form with the session's CSRF token, fetching the token from a page first. */
  async #post(path: string, body: string): Promise<Response | null> {
    if (!this.csrf && this.cookie) {
      const page = await this.#fetch('/shop', { headers: { accept: 'text/html' } });
      const html = page?.status === 200 ? await page.text() : (await page?.text(), '');
      this.csrf = /name="csrf_token" value="([^"]+)"/.exec(html)?.[1] ?? '';
    }
    const res = await this.#fetch(path, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...(this.csrf ? { 'x-csrf-token': this.csrf } : {}) },
      body,
    });
    if (res?.status === 403) this.csrf = '';
    return res;
  }

  async step(): Promise<void> {
    const r = Math.random();
    if (r < 0.4) {
      const res = await this.#fetch('/count');
      if (res?.status === 200) {
        const n = Number(/Count: (\d+)/.exec(await res.text())?.[1]);
        this.#check('count', { acked: this.count.acked + 1, unsure: this.count.unsure }, n);
        this.count = { acked: n, unsure: 0 };
      } else {
        await res?.text();
        if (res?.status === 503) this.count.unsure++;
      }
    } else if (r < 0.7 && this.cart.acked + this.cart.unsure >= 90 && !this.cartUnknown) {
      // the demo caps a cart line at 99: empty it, then count again from 0
      const res = await this.#post('/cart/remove', `item=${ITEM}`);
      await res?.text();
      if (res?.status === 303) this.cart = { acked: 0, unsure: 0 };
      else this.cartUnknown = true;
    } else if (r < 0.7 && !this.cartUnknown) {
      const res = await this.#post('/cart/add', `item=${ITEM}&qty=1`);
      await res?.text();
      if (res?.status === 303) this.cart.acked++;
      else if (res?.status === 503 || !res) this.cart.unsure++;
    } else {
      const res = await this.#fetch('/cart.json');
      if (res?.status === 200) {
        const body = (await res.json()) as { items: { id: string; qty: number }[] };
        const qty = body.items.find((i) => i.id === ITEM)?.qty ?? 0;
        if (this.cartUnknown) this.cart = { acked: qty, unsure: 0 };
        else this.#check('cart', this.cart, qty);
        this.cartUnknown = false;
      } else await res?.text();
    }
  }
}

export async function soak(o: SoakOptions): Promise<Tally> {
  const t: Tally = { requests: 0, ok: 0, unavailable: 0, otherErrors: 0, lost: 0, phantom: 0, kills: 0 };
  const messages: string[] = [];
  const log = (s: string) => {
    if (messages.length < 20) console.log(`soak: ${s}`);
    messages.push(s);
  };
  let url: string;
  let kill: () => Promise<void>;
  let restart: () => Promise<void>;
  let cleanup: () => Promise<void>;
  if (o.store === 'redis') {
    const redis = await startRedis({ persistent: true });
    url = redis.url;
    kill = () => redis.kill();
    restart = () => redis.restart();
    cleanup = () => stopAll();
  } else if (o.store === 'postgres') {
    const pg = await startPostgres();
    url = pg.url;
    kill = () => pg.stop();
    restart = () => pg.restart();
    cleanup = () => pg.destroy();
  } else throw new Error(`bench soak: --store redis or postgres, not ${o.store}`);

  const { dir, remove } = demoDir();
  const demo = await startDemo({
    cwd: dir,
    port: await freePort(),
    env: { SESSION_STORE: url, SESSION_SECRET: 'soak-secret-soak-secret-soak-secret-0123' },
  });
  const clients = Array.from({ length: o.clients }, () => new Client(demo.url, t, log));
  const end = Date.now() + o.minutes * 60_000;
  let stopping = false;
  const loops = clients.map(async (c) => {
    while (!stopping && Date.now() < end) await c.step();
  });
  await new Promise((r) => setTimeout(r, 5000));
  const rssStart = rssBytes(demo.pid);
  console.log(
    `soak: demo on ${o.store} (${url}), ${o.clients} clients, ${o.minutes} min, store killed every ${o.killEverySeconds} s for ${o.downSeconds} s; RSS ${(rssStart / 2 ** 20).toFixed(1)} MiB`,
  );
  const killer = (async () => {
    while (Date.now() + o.killEverySeconds * 1000 < end) {
      await new Promise((r) => setTimeout(r, o.killEverySeconds * 1000));
      await kill();
      t.kills++;
      await new Promise((r) => setTimeout(r, o.downSeconds * 1000));
      await restart();
      console.log(
        `soak: ${((Date.now() - end) / -60_000).toFixed(1)} min left; ${t.requests} requests, ${t.unavailable} 503, ${t.lost} lost, RSS ${(rssBytes(demo.pid) / 2 ** 20).toFixed(1)} MiB`,
      );
    }
  })();
  try {
    await Promise.all(loops);
    stopping = true;
    await killer;
    // a last read of every client, with the store up: what each client was told must be there
    for (const c of clients) {
      await c.step();
    }
  } finally {
    stopping = true;
    const rssEnd = rssBytes(demo.pid);
    await demo.stop();
    remove();
    await cleanup();
    const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
    console.log(
      `\nsoak result: ${o.minutes} min on ${o.store}, ${t.kills} kills: ${t.requests} requests, ${t.ok} ok, ${t.unavailable} answered 503, ` +
        `${t.otherErrors} other errors, ${t.lost} lost updates, ${t.phantom} phantom updates; demo RSS ${mib(rssStart)} at start, ${mib(rssEnd)} at end`,
    );
  }
  return t;
}
