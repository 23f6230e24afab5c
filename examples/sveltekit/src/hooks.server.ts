import { sessionHandle } from 'sessionkit/sveltekit';
import { sessions } from '$lib/server/sessions';

// Loads the session into event.locals.session before each request, commits it after.
export const handle = sessionHandle(sessions);
