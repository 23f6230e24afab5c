// Compiles in a fresh project with SvelteKit 3, skipLibCheck off: SvelteKit's own declarations and
// sessionkit's together (sessionkit brings no `cookie` of its own to clash with Kit's), the hook
// assignable to Kit's Handle and usable in sequence(), event.locals.session typed by App.Locals.
import type { Handle } from '@sveltejs/kit/hooks';
import { sequence } from '@sveltejs/kit/hooks';
import { createSessions, MemoryStore, type Session } from 'sessionkit';
import { sessionHandle } from 'sessionkit/sveltekit';

type Data = { count: number };

declare global {
  namespace App {
    interface Locals {
      session: Session<Data>;
    }
  }
}

const sessions = createSessions<Data>({ store: new MemoryStore() });

export const handle: Handle = sessionHandle(sessions);

export const counted: Handle = sequence(sessionHandle(sessions), async ({ event, resolve }) => {
  const count: number = event.locals.session.get('count', 0);
  event.locals.session.set('count', count + 1);
  // @ts-expect-error count is a number
  event.locals.session.set('count', 'one');
  return resolve(event);
});
