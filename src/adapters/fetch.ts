import { addsNothing, answerError, applyCommit, webHeaders } from '../core/response.js';
import type { CommitResponse, Sessions } from '../core/sessions.js';
import type { DeviceBoundAnswer } from '../core/device-bound-endpoint.js';
import type { Translation } from './sequence.js';

/**
 * The translation every fetch-style adapter shares (web, React Router, SvelteKit, h3): a
 * Request in, a Response out, through the adapter sequence. No policy lives here.
 */

/** A DBSC endpoint's answer as a fetch Response. */
export function answerResponse(a: DeviceBoundAnswer): Response {
  const headers = new Headers();
  for (const [name, value] of a.headers) headers.append(name, value);
  return new Response(a.status === 204 ? null : a.body, { status: a.status, headers });
}

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

/** What a fetch-style adapter answers at each step of the sequence: Responses, whatever its request and its application. */
export type FetchAnswers<A, B> = Omit<Translation<any, A, B, Response>, 'request' | 'endpointRequest' | 'run'>;

/**
 * The Responses of the sequence for a fetch-style adapter: the DBSC endpoint's answer, the
 * application's Response with the commit's headers, and a failed load's or commit's error answer
 * (the application's Response dropped, its body cancelled).
 */
export function fetchAnswers<A, B>(sessions: Sessions<any>): FetchAnswers<A, B> {
  return {
    deviceBound: answerResponse,
    status: (response) => response.status,
    commit: withCommit,
    loadFailed: (err) => errorAnswer(sessions, err),
    commitFailed: async (err, response) => {
      await response.body?.cancel().catch(() => {});
      return errorAnswer(sessions, err);
    },
  };
}
