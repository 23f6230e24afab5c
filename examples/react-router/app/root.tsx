import type { ReactNode } from 'react';
import { type MiddlewareFunction, Outlet, Scripts } from 'react-router';
import { csrfProtection, sessionMiddleware } from 'sessionkit/react-router';
import { remoteSuite } from 'sessionkit/testing/remote';
import { sessions } from './sessions.server';

const app = sessionMiddleware(sessions);

// When sessionkit's test suite starts this app, /suite/* serves its adapter behaviour table.
const suite = process.env.SESSIONKIT_HARNESS ? remoteSuite(process.env.SESSIONKIT_HARNESS) : null;

export const middleware: MiddlewareFunction<Response>[] = [
  async (args, next) => {
    if (suite !== null && new URL(args.request.url).pathname.startsWith('/suite/')) {
      return sessionMiddleware(await suite.sessions())(args, next);
    }
    return app(args, next);
  },
  csrfProtection(), // after the session: a POST from another site is refused (403) before any action runs
];

export function Layout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>
        {children}
        <Scripts />
      </body>
    </html>
  );
}

export default function Root() {
  return <Outlet />;
}
