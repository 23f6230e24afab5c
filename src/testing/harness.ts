import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SessionsOptions } from '../core/options.js';
import { SessionError } from '../core/errors.js';
import type { SessionStore } from '../core/store.js';

const METHODS = new Set(['load', 'create', 'update', 'delete', 'exists', 'clearExpired', 'stats']);

/**
 * The test-process side of `remoteSuite`: serves the current case's session options and its
 * store over HTTP on 127.0.0.1, so an app in another process uses the suite's probe store.
 */
export async function startHarness(): Promise<{
  url: string;
  /** The current case: its store and options, and where the app's log lines go. */
  use(store: SessionStore, options: Omit<SessionsOptions<unknown>, 'store'>, logged: string[]): void;
  close(): Promise<void>;
}> {
  let current: { id: number; store: SessionStore | null; options: object; logged: string[] } = {
    id: 0,
    store: null,
    options: {},
    logged: [],
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const send = (value: unknown) => {
        const body = JSON.stringify(value);
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
        res.end(body);
      };
      if (req.url === '/config') return send({ id: current.id, options: current.options });
      if (req.url === '/log') {
        current.logged.push(Buffer.concat(chunks).toString('utf8'));
        return send({});
      }
      const method = req.url?.startsWith('/store/') ? req.url.slice(7) : '';
      if (!METHODS.has(method) || current.store === null) {
        res.writeHead(404);
        return res.end();
      }
      const args = JSON.parse(Buffer.concat(chunks).toString('utf8') || '[]') as unknown[];
      try {
        const fn = current.store[method as 'load'] as (...a: unknown[]) => Promise<unknown>;
        send({ result: (await fn.apply(current.store, args)) ?? null });
      } catch (err) {
        send({ error: err instanceof SessionError ? err.code : 'ERROR', message: String((err as Error)?.message ?? err) });
      }
    });
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    use(store, options, logged) {
      current = { id: current.id + 1, store, options, logged };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
