import { sequence } from '@sveltejs/kit/hooks';
import { csrfProtection, sessionHandle } from 'sessionkit/sveltekit';
import { sessions } from '$lib/server/sessions';

// Loads the session into event.locals.session before each request, commits it after; then a POST
// from another site is refused (403) before any action runs.
export const handle = sequence(sessionHandle(sessions), csrfProtection());
