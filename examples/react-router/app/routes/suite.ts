import type { LoaderFunctionArgs } from 'react-router';
import { getSession } from 'sessionkit/react-router';
import { remoteSuite } from 'sessionkit/testing/remote';

const suite = process.env.SESSIONKIT_HARNESS ? remoteSuite(process.env.SESSIONKIT_HARNESS) : null;

// A resource route serving sessionkit's adapter behaviour table (only when its test suite starts the app).
export async function loader({ request, context }: LoaderFunctionArgs) {
  if (suite === null) return new Response('not found', { status: 404 });
  const url = new URL(request.url);
  const path = url.pathname.slice('/suite'.length);
  return suite.respond(await suite.routes({ session: getSession(context), method: request.method, path, query: url.searchParams }));
}
