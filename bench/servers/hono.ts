/** Hono 4 on @hono/node-server: bare and sessionkit (sessionkit/hono). */
import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { impl, ready, sessionkitSessions, fromDist } from './common.js';

let app: Hono<any>;
if (impl === 'bare') {
  app = new Hono();
  app.get('/none', (c) => c.text('ok'));
  app.get('/read', (c) => c.text('count=0'));
  app.get('/count', (c) => c.text('count=1'));
} else if (impl === 'empty') {
  // the cost of any middleware on Hono: the floor a session middleware is measured against
  app = new Hono();
  app.use(async (_c, next) => {
    await next();
  });
  app.get('/none', (c) => c.text('ok'));
  app.get('/read', (c) => c.text('count=0'));
  app.get('/count', (c) => c.text('count=1'));
} else if (impl === 'sessionkit') {
  const { sessionMiddleware } = (await import(fromDist('adapters/hono.js'))) as typeof import('../../dist/adapters/hono.js');
  const sk = new Hono<import('../../dist/adapters/hono.js').SessionEnv<{ count: number }>>();
  sk.use(sessionMiddleware(await sessionkitSessions()));
  sk.get('/none', (c) => c.text('ok'));
  sk.get('/read', (c) => c.text(`count=${c.get('session').get('count', 0)}`));
  sk.get('/count', (c) => {
    const count = c.get('session').get('count', 0) + 1;
    c.get('session').set('count', count);
    return c.text(`count=${count}`);
  });
  app = sk;
} else throw new Error(`bench: Hono has no ${impl}`);

const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as Server;
server.once('listening', () => ready(server));
