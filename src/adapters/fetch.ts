import { addsNothing, answerError, applyCommit, webHeaders } from '../core/response.js';
import type { Session } from '../core/session.js';
import type { CommitResponse, Sessions } from '../core/sessions.js';
import type { DeviceBoundAnswer } from '../core/device-bound-endpoint.js';

/** A DBSC endpoint's answer as a fetch Response. */
export function answerResponse(a: DeviceBoundAnswer): Response {
  const headers = new Headers();
  for (const [name, value] of a.headers) headers.append(name, value);
  return new Response(a.status === 204 ? null : a.body, { status: a.status, headers });
}

/**
 * The translation every fetch-style adapter shares (web, React Router, SvelteKit, h3): a
 * Request in, a Response out, through `sessions.commitResponse`. No policy lives here.
 */

/** The plain-text Response for a sessionkit error (400, 503, or a logged 500); anything else is rethrown to the framework. */
export function errorAnswer(sessions: Sessions<any>, err: unknown): Response {
  const answer = answerError(sessions.logger, err);
  if (answer === null) throw err;
  return new Response(answer.text, { status: answer.status, headers: { 'Content-Type': 'text/plain; charset=utf-8' } });
}

/** `response` with the commit's headers; a response with immutable headers (Response.redirect(), fetch()) is copied. */
export function withCommit(response: Response, result: CommitResponse): Response {
  if (addsNothing(result)) return response;
  try {
    applyCommit(response.headers, webHeaders, result);
    return response;
  } catch {
    const copy = new Response(response.body, response);
    applyCommit(copy.headers, webHeaders, result);
    return copy;
  }
}

/** Commits the session for `response` and answers the response to send (an error answer when the commit fails). */
export async function commitToResponse<Data extends Record<string, any>>(
  sessions: Sessions<Data>,
  session: Session<Data>,
  response: Response,
): Promise<Response> {
  let result: CommitResponse | Promise<CommitResponse>;
  try {
    result = sessions.commitResponse(session, { status: response.status });
    if (result instanceof Promise) result = await result;
  } catch (err) {
    await response.body?.cancel().catch(() => {});
    return errorAnswer(sessions, err);
  }
  return withCommit(response, result);
}
