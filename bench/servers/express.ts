/** Express 5: bare, sessionkit (sessionkit/express), express-session (MemoryStore, connect-redis) and iron-session. */
import type { Request, Response } from 'express';
import { getIronSession } from 'iron-session';
import { connectRedisStore, impl, IRON_OPTIONS, ready, SECRET, sessionkitSessions, storeKind, fromDist } from './common.js';

// BENCH_EXPRESS=express4 runs the same servers on Express 4 (an npm alias), when it is installed
const { default: express } = (await import(process.env.BENCH_EXPRESS ?? 'express')) as { default: typeof import('express') };
const app = express();
app.disable('etag');
app.disable('x-powered-by');

if (impl === 'bare') {
  app.get('/none', (_req, res) => void res.type('text/plain').send('ok'));
  app.get('/read', (_req, res) => void res.type('text/plain').send('count=0'));
  app.get('/count', (_req, res) => void res.type('text/plain').send('count=1'));
} else if (impl === 'sessionkit') {
  const { sessionMiddleware } = (await import(fromDist('adapters/express.js'))) as typeof import('../../dist/adapters/express.js');
  app.use(sessionMiddleware(await sessionkitSessions()));
  app.get('/none', (_req, res) => void res.type('text/plain').send('ok'));
  app.get('/read', (req, res) => void res.type('text/plain').send(`count=${req.session.get('count', 0)}`));
  app.get('/count', (req, res) => {
    const count = req.session.get('count', 0) + 1;
    req.session.set('count', count);
    res.type('text/plain').send(`count=${count}`);
  });
} else if (impl === 'express-session') {
  const { default: session } = await import('express-session');
  // resave/saveUninitialized off: no write for an unchanged session, no cookie for an untouched one (as sessionkit)
  app.use(
    session({
      secret: SECRET,
      resave: false,
      saveUninitialized: false,
      store: storeKind === 'redis' ? await connectRedisStore() : undefined,
    }),
  );
  const s = (req: Request) => (req as unknown as { session: Record<string, any> }).session;
  app.get('/none', (_req, res) => void res.type('text/plain').send('ok'));
  app.get('/read', (req, res) => void res.type('text/plain').send(`count=${s(req).count ?? 0}`));
  app.get('/count', (req, res) => {
    s(req).count = (s(req).count ?? 0) + 1;
    res.type('text/plain').send(`count=${s(req).count}`);
  });
} else if (impl === 'iron-session') {
  app.get('/none', (_req, res) => void res.type('text/plain').send('ok'));
  app.get('/read', async (req: Request, res: Response) => {
    const session = await getIronSession<{ count?: number }>(req, res, IRON_OPTIONS);
    res.type('text/plain').send(`count=${session.count ?? 0}`);
  });
  app.get('/count', async (req: Request, res: Response) => {
    const session = await getIronSession<{ count?: number }>(req, res, IRON_OPTIONS);
    session.count = (session.count ?? 0) + 1;
    await session.save();
    res.type('text/plain').send(`count=${session.count}`);
  });
} else throw new Error(`bench: Express has no ${impl}`);

const server = app.listen(0, '127.0.0.1', () => ready(server));
