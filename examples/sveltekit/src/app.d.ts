import type { Session } from 'sessionkit';
import type { Data } from '$lib/server/sessions';

declare global {
  namespace App {
    // event.locals.session, typed by the app's session data
    interface Locals {
      session: Session<Data>;
    }
  }
}
