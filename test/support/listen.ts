import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A server a test started on 127.0.0.1. */
export interface Running {
  /** e.g. http://127.0.0.1:40123 */
  url: string;
  /** Stops it, ending its open connections. */
  close(): Promise<void>;
}

/** Starts `server` on a free port of 127.0.0.1 (unless it is listening already): its URL, and a close that ends its connections. */
export async function listen(server: Server): Promise<Running> {
  if (!server.listening) await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
