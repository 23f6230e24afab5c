import type { Handle } from '@sveltejs/kit';
import { sequence } from '@sveltejs/kit/hooks';
import { csrfProtection, sessionHandle } from 'sessionkit/sveltekit';
import { remoteSuite } from 'sessionkit/testing/remote';
import { sessions } from '$lib/server/sessions';

// csrfProtection after the session: a POST from another site is refused (403) before any action runs
const app = sequence(sessionHandle(sessions), csrfProtection());

// When sessionkit's test suite starts this app, /suite/* serves its adapter behaviour table.
const suite = process.env.SESSIONKIT_HARNESS ? remoteSuite(process.env.SESSIONKIT_HARNESS) : null;

export const handle: Handle = async (input) => {
  if (suite !== null && input.event.url.pathname.startsWith('/suite/')) return sessionHandle(await suite.sessions())(input);
  return app(input);
};
