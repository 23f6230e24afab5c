// Bun: the app on Bun.serve, at the port given as argv[2].
import { makeApp } from './app.mjs';

Bun.serve({ fetch: makeApp().fetch, port: Number(process.argv[2]), hostname: '127.0.0.1' });
console.log('listening');
