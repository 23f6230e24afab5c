import { csrfProtection } from 'sessionkit/next';
import { withSession } from 'sessionkit/web';
import { sessions } from '../../../lib/sessions';

// A route handler: withSession commits after it returns and adds Set-Cookie and Vary: Cookie;
// csrfProtection refuses (403) a POST from another site before it runs.
export const POST = csrfProtection(
  withSession(sessions, (_request, session) => {
    const count = session.get('count', 0) + 1;
    session.set('count', count);
    return Response.json({ count });
  }),
  { sessions },
);

export const GET = withSession(sessions, (_request, session) => Response.json({ count: session.get('count', 0) }));
