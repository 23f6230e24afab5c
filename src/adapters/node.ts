import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Session } from '../core/session.js';
import type { Sessions } from '../core/sessions.js';
import { attachSession, sendError } from './http.js';

export type SessionHandler<Data extends Record<string, any>> = (
  req: IncomingMessage,
  res: ServerResponse,
  session: Session<Data>,
) => unknown;

/**
 * A node:http request listener that loads the session before `handler` runs and commits it
 * before the response headers leave: `http.createServer(withSession(sessions, handler))`.
 */
export function withSession<Data extends Record<string, any>>(
  sessions: Sessions<Data>,
  handler: SessionHandler<Data>,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    attachSession(sessions, req, res, (session) => {
      try {
        const out = handler(req, res, session);
        if (out instanceof Promise) out.catch((err) => fail(sessions, res, err));
      } catch (err) {
        fail(sessions, res, err);
      }
    });
  };
}

function fail(sessions: Sessions<any>, res: ServerResponse, err: unknown): void {
  if (res.headersSent || res.writableEnded) {
    res.destroy(err as Error);
    return;
  }
  sendError(sessions, res, err);
}
