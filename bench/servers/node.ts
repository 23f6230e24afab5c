/** node:http: bare, sessionkit (sessionkit/node) and iron-session. */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { getIronSession } from 'iron-session';
import { impl, IRON_OPTIONS, ready, sessionkitSessions, fromDist } from './common.js';

const text = (res: ServerResponse, body: string) => {
  res.setHeader('Content-Type', 'text/plain');
  res.end(body);
};

let listener: (req: IncomingMessage, res: ServerResponse) => void;

if (impl === 'bare') {
  listener = (req, res) => {
    if (req.url === '/count') text(res, 'count=1');
    else if (req.url === '/read') text(res, 'count=0');
    else text(res, 'ok');
  };
} else if (impl === 'sessionkit') {
  const { withSession } = (await import(fromDist('adapters/node.js'))) as typeof import('../../dist/adapters/node.js');
  listener = withSession(await sessionkitSessions(), (req, res, session) => {
    const url = req.url ?? '/';
    if (url.startsWith('/fill?')) {
      // a session of about `bytes` bytes of JSON: a list of small records, as a cart or history
      const bytes = Number(new URL(url, 'http://x').searchParams.get('bytes'));
      const blob = Array.from({ length: Math.max(1, Math.round(bytes / 50)) }, (_, i) => ({ id: i, name: `item-${i}`, qty: 1 }));
      session.set('blob', blob);
      session.set('count', 0);
      return text(res, String(JSON.stringify(blob).length));
    }
    if (url === '/readblob') return text(res, `items=${session.get('blob', []).length}`);
    if (url === '/incr') {
      session.modify('n', (n = 0) => n + 1);
      return text(res, 'ok');
    }
    if (url === '/n') return text(res, String(session.get('n', 0)));
    if (url === '/count') {
      const count = session.get('count', 0) + 1;
      session.set('count', count);
      text(res, `count=${count}`);
    } else if (req.url === '/read') text(res, `count=${session.get('count', 0)}`);
    else text(res, 'ok');
  });
} else if (impl === 'iron-session') {
  listener = async (req, res) => {
    if (req.url === '/none') return text(res, 'ok');
    const session = await getIronSession<{ count?: number }>(req, res, IRON_OPTIONS);
    if (req.url === '/count') {
      session.count = (session.count ?? 0) + 1;
      await session.save();
      text(res, `count=${session.count}`);
    } else text(res, `count=${session.count ?? 0}`);
  };
} else throw new Error(`bench: node:http has no ${impl}`);

const server = createServer(listener);
server.listen(0, '127.0.0.1', () => ready(server));
