import { remoteSuite } from 'sessionkit/testing/remote';
import type { RequestHandler } from './$types';

const suite = process.env.SESSIONKIT_HARNESS ? remoteSuite(process.env.SESSIONKIT_HARNESS) : null;

export const GET: RequestHandler = async ({ locals, request, url }) => {
  if (suite === null) return new Response('not found', { status: 404 });
  const path = url.pathname.slice('/suite'.length);
  return suite.respond(await suite.routes({ session: locals.session, method: request.method, path, query: url.searchParams }));
};
