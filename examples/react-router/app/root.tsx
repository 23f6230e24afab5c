import type { ReactNode } from 'react';
import { type MiddlewareFunction, Outlet, Scripts } from 'react-router';
import { csrfProtection, sessionMiddleware } from 'sessionkit/react-router';
import { sessions } from './sessions.server';

// Loads the session before the loaders and actions run, commits it after them; then a POST from
// another site is refused (403) before any action runs.
export const middleware: MiddlewareFunction<Response>[] = [sessionMiddleware(sessions), csrfProtection()];

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
