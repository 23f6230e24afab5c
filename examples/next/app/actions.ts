'use server';

import { commitSession, getSession } from 'sessionkit/next';
import { sessions } from '../lib/sessions';

// A Server Action: change the session, then commit it (the cookie goes out through cookies()).
export async function increment(): Promise<void> {
  const session = await getSession(sessions);
  const count = session.get('count', 0) + 1;
  session.set('count', count);
  await commitSession(session);
}
