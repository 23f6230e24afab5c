import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sessionErrorResponse } from '../core/errors.js';
import { describeAdapter } from '../testing/adapter-suite.js';

/*
 * An adapter written only against the public API, as a user would write one for a framework
 * sessionkit has no adapter for: load, run the handler, commitResponse, translate. It passes the
 * same behaviour table as the shipped adapters.
 */
describeAdapter('hand-written glue on sessions.commitResponse (public API only)', {
  async start(sessions, routes) {
    const server = createServer(async (req, res) => {
      try {
        const session = await sessions.load(req);
        const url = new URL(req.url!, 'http://localhost');
        const r = await routes({ session, method: req.method!, path: url.pathname, query: url.searchParams });
        const { setCookie, vary, cacheControl, clearSiteData } = await sessions.commitResponse(session, { status: r.status });
        const headers: Record<string, string | string[]> = { 'Content-Type': 'text/plain', ...r.headers };
        const cookies = [...(r.cookies ?? []), ...(setCookie === null ? [] : [setCookie])];
        if (cookies.length > 0) headers['Set-Cookie'] = cookies;
        if (vary) headers.Vary = headers.Vary ? `${headers.Vary}, Cookie` : 'Cookie';
        if (cacheControl !== null && headers['Cache-Control'] === undefined) headers['Cache-Control'] = cacheControl;
        if (clearSiteData !== null) headers['Clear-Site-Data'] = clearSiteData;
        res.writeHead(r.status, headers);
        res.end(r.body);
      } catch (err) {
        const answer = sessionErrorResponse(err) ?? { status: 500, text: 'Internal Server Error\n' };
        sessions.logger.warn(`answering ${answer.status}`, { error: String(err) });
        res.writeHead(answer.status, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end(answer.text);
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
  },
});
