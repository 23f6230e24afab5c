// Serves sessionkit's adapter behaviour table when the test suite starts this app; 404 otherwise.
import { remoteSuite } from 'sessionkit/testing/remote';
import { withSession } from 'sessionkit/web';

export const dynamic = 'force-dynamic';

const suite = process.env.SESSIONKIT_HARNESS ? remoteSuite(process.env.SESSIONKIT_HARNESS) : null;

export async function GET(request: Request): Promise<Response> {
  if (suite === null) return new Response('not found', { status: 404 });
  const handler = withSession(await suite.sessions(), async (req, session) => {
    const url = new URL(req.url);
    const path = url.pathname.slice('/suite'.length);
    return suite.respond(await suite.routes({ session, method: req.method, path, query: url.searchParams }));
  });
  return handler(request);
}
