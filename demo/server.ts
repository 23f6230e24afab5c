// The demo shop: `npm start`, then open the printed address. Settings: see docs/demo.md.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { CookieStore, createSessions, createStore, type Sessions } from 'sessionkit';
import { createApp, type Data } from './app.js';

const port = Number(process.env.PORT || 8000);
const host = process.env.HOST || '127.0.0.1';
const storeUrl = process.env.SESSION_STORE || 'sqlite:./data/sessions.sqlite3';

function exit(message: string): never {
  console.error(`sessionkit demo: ${message}`);
  process.exit(1);
}

/** SESSION_SECRET, or one generated on the first start and kept in ./data/secret. */
function secret(): string {
  if (process.env.SESSION_SECRET) return process.env.SESSION_SECRET;
  const file = './data/secret';
  if (!existsSync(file)) {
    mkdirSync('./data', { recursive: true });
    writeFileSync(file, randomBytes(32).toString('base64url'), { mode: 0o600 });
  }
  return readFileSync(file, 'utf8').trim();
}

/** The sessions on SESSION_STORE; the cookie: store signs with the secret. */
function openSessions(secret: string): Sessions<Data> {
  try {
    const store = storeUrl === 'cookie:' ? new CookieStore({ secret }) : createStore(storeUrl);
    // Chrome on Windows binds each signed-in session to a key on the device (docs/device-bound.md);
    // a cookie store has no server-side record to keep that key in.
    return createSessions<Data>({ store, deviceBound: storeUrl !== 'cookie:' });
  } catch (err) {
    exit(`SESSION_STORE=${storeUrl}: ${(err as Error).message}`);
  }
}

if (!Number.isInteger(port) || port < 0 || port > 65535) exit(`PORT must be a port number, got ${JSON.stringify(process.env.PORT)}`);
const sessions = openSessions(secret());
const server = createApp(sessions).listen(port, host, (err) => {
  if (err) exit(`cannot listen on ${host}:${port}: ${err.message}`);
  const { port: actual } = server.address() as { port: number }; // PORT=0 picks a free port
  console.log(`sessionkit demo listening on http://${host.includes(':') ? `[${host}]` : host}:${actual}`);
});

function shutdown(): void {
  // Finishes the requests in flight, then releases the store (connections, file handles).
  server.close(() => sessions.close().catch((err: unknown) => exit(`closing the store failed: ${err}`)));
}
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
