// Node.js: the app on @hono/node-server, at the port given as argv[2].
import { serve } from '@hono/node-server';
import { makeApp } from './app.mjs';

serve({ fetch: makeApp().fetch, port: Number(process.argv[2]), hostname: '127.0.0.1' }, () => console.log('listening'));
