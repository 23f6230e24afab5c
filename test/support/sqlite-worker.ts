// A second process on the same SQLite file: appends to the cart of one session, in parallel.
import { createSessions } from '../../src/index.js';
import { SqliteStore } from '../../src/stores/sqlite.js';

const [path, cookie, label, countText] = process.argv.slice(2) as [string, string, string, string];
const sessions = createSessions<{ cart: string[]; [k: string]: unknown }>({ store: new SqliteStore({ path }) });
await Promise.all(
  Array.from({ length: Number(countText) }, async (_, i) => {
    const session = await sessions.load(cookie);
    session.modify('cart', (cart) => [...(cart ?? []), `${label}-${i}`]);
    session.set(`${label}-${i}`, i);
    await sessions.commit(session);
  }),
);
await sessions.close();
