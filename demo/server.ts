// The demo shop: `npm start`, then open the printed address.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { CookieStore, createSessions, createStore } from 'sessionkit';
import { createApp, type Data } from './app.js';

const port = Number(process.env.PORT ?? 8000);
const host = process.env.HOST ?? '127.0.0.1';
const storeUrl = process.env.SESSION_STORE ?? 'sqlite:./data/sessions.sqlite3';

/** SESSION_SECRET, or one generated on the first start and kept in ./data/secret. */
function secret(): string {
  if (process.env.SESSION_SECRET) return process.env.SESSION_SECRET;
  const file = './data/secret';
  if (!existsSync(file)) {
    mkdirSync('./data', { recursive: true });
    writeFileSync(file, randomBytes(32).toString('base64url'), { mode: 0o600, flag: 'wx' });
  }
  return readFileSync(file, 'utf8').trim();
}

const sessionSecret = secret(); // signs sessions kept in the cookie itself (SESSION_STORE=cookie:)
const store = storeUrl === 'cookie:' ? new CookieStore({ secret: sessionSecret }) : createStore(storeUrl);
const sessions = createSessions<Data>({ store });
const server = createApp(sessions).listen(port, host, () => {
  const address = server.address();
  const url = typeof address === 'object' && address ? `http://${host.includes(':') ? `[${host}]` : host}:${address.port}` : String(address);
  console.log(`sessionkit demo listening on ${url}`);
});

function shutdown(): void {
  server.close(() => void sessions.close());
  server.closeIdleConnections();
}
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
