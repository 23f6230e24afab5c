/** Fastify 5: bare, sessionkit (sessionkit/fastify), @fastify/session (+@fastify/cookie) and iron-session. */
import Fastify from 'fastify';
import { getIronSession } from 'iron-session';
import { connectRedisStore, impl, IRON_OPTIONS, ready, SECRET, sessionkitSessions, storeKind, fromDist } from './common.js';

const app = Fastify({ logger: false });

if (impl === 'bare') {
  app.get('/none', async () => 'ok');
  app.get('/read', async () => 'count=0');
  app.get('/count', async () => 'count=1');
} else if (impl === 'sessionkit') {
  const { sessionPlugin } = (await import(fromDist('adapters/fastify.js'))) as typeof import('../../dist/adapters/fastify.js');
  await app.register(sessionPlugin, { sessions: await sessionkitSessions() });
  app.get('/none', async () => 'ok');
  app.get('/read', async (request) => `count=${request.session.get('count', 0)}`);
  app.get('/count', async (request) => {
    const count = request.session.get('count', 0) + 1;
    request.session.set('count', count);
    return `count=${count}`;
  });
} else if (impl === 'fastify-session') {
  // Loaded by a computed name so its FastifyRequest.session typing stays out of the type check
  // (sessionkit/fastify declares the same property).
  const name = (n: string) => n;
  const { default: fastifyCookie } = await import(name('@fastify/cookie'));
  const { default: fastifySession } = await import(name('@fastify/session'));
  await app.register(fastifyCookie);
  await app.register(fastifySession, {
    secret: SECRET,
    saveUninitialized: false, // no cookie for an untouched session, as sessionkit
    cookie: { secure: false },
    store: storeKind === 'redis' ? await connectRedisStore() : undefined,
  });
  const s = (request: unknown) => (request as { session: { get(k: string): any; set(k: string, v: unknown): void } }).session;
  app.get('/none', async () => 'ok');
  app.get('/read', async (request) => `count=${s(request).get('count') ?? 0}`);
  app.get('/count', async (request) => {
    const count = (s(request).get('count') ?? 0) + 1;
    s(request).set('count', count);
    return `count=${count}`;
  });
} else if (impl === 'iron-session') {
  app.get('/none', async () => 'ok');
  app.get('/read', async (request, reply) => {
    const session = await getIronSession<{ count?: number }>(request.raw, reply.raw, IRON_OPTIONS);
    return `count=${session.count ?? 0}`;
  });
  app.get('/count', async (request, reply) => {
    const session = await getIronSession<{ count?: number }>(request.raw, reply.raw, IRON_OPTIONS);
    session.count = (session.count ?? 0) + 1;
    await session.save();
    return `count=${session.count}`;
  });
} else throw new Error(`bench: Fastify has no ${impl}`);

await app.listen({ port: 0, host: '127.0.0.1' });
ready(app.server);
