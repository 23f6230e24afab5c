// Deno: the app on Deno.serve, at the port given as the first argument.
import { makeApp } from './app.mjs';

Deno.serve({ port: Number(Deno.args[0]), hostname: '127.0.0.1', onListen: () => console.log('listening') }, makeApp().fetch);
