import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  BODY_TOO_LARGE,
  CSRF_FIELD,
  CSRF_REFUSED_TEXT,
  CSRF_TOO_LARGE_TEXT,
  type CsrfRefusal,
  type CsrfRequest,
  MAX_CSRF_BODY_BYTES,
} from '../core/csrf.js';

/**
 * The CSRF translation the node:http-based adapters share (node, Express, Koa): a node request as
 * a CsrfRequest, and its urlencoded form read at most to 1 MiB. No policy lives here.
 */

function firstHeader(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** A node request as a CsrfRequest: the scheme of its connection and its Host (`:authority` on HTTP/2). */
export function nodeCsrfRequest(req: IncomingMessage): CsrfRequest {
  const encrypted = (req.socket as { encrypted?: boolean } | undefined)?.encrypted === true;
  return {
    method: req.method ?? 'GET',
    header: (name) => firstHeader(req, name),
    protocol: encrypted ? 'https' : 'http',
    host: firstHeader(req, 'host') ?? firstHeader(req, ':authority'),
  };
}

type WithBody = IncomingMessage & { body?: unknown; _body?: boolean };

/**
 * The `csrf_token` field of an application/x-www-form-urlencoded body: from `req.body` when a
 * body parser already read it, else read here (at most 1 MiB; `BODY_TOO_LARGE` beyond, the rest
 * left unread) and handed on parsed as `req.body`, an object of its fields.
 */
export function readNodeFormToken(req: IncomingMessage): unknown {
  const r = req as WithBody;
  if (r.body !== undefined && r.body !== null) {
    return typeof r.body === 'object' ? (r.body as Record<string, unknown>)[CSRF_FIELD] : undefined;
  }
  if (!/^\s*application\/x-www-form-urlencoded\s*(;|$)/i.test(firstHeader(req, 'content-type') ?? '')) return undefined;
  if (Number(firstHeader(req, 'content-length') ?? Number.NaN) > MAX_CSRF_BODY_BYTES) return BODY_TOO_LARGE;
  if (req.readableEnded) return undefined; // read already by something that kept nothing
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_CSRF_BODY_BYTES) {
        req.off('data', onData);
        req.pause();
        resolve(BODY_TOO_LARGE);
      } else chunks.push(chunk);
    };
    req.on('data', onData);
    req.on('end', () => {
      const fields = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
      r.body = fields;
      r._body = true; // body-parser (Express) skips a body already read
      resolve(fields[CSRF_FIELD]);
    });
    req.on('error', reject);
    req.on('close', () => resolve(undefined)); // the client went away: no token (settles nothing twice)
  });
}

/** The default refusal on a node response: 403 with a short text, or 413 (and the connection closed) for an oversized form. */
export function sendCsrfRefusal(res: ServerResponse, refusal: CsrfRefusal): void {
  const text = refusal.status === 413 ? CSRF_TOO_LARGE_TEXT : CSRF_REFUSED_TEXT;
  const headers: Record<string, string | number> = {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
  };
  if (refusal.status === 413) headers.Connection = 'close';
  res.writeHead(refusal.status, headers);
  res.end(text);
}
