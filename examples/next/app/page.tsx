import { getSession } from 'sessionkit/next';
import { sessions } from '../lib/sessions';
import { increment } from './actions';

// A Server Component reads the session (it cannot set cookies: changes go through the action).
export default async function Page() {
  const session = await getSession(sessions);
  return (
    <main>
      <p>
        count=<output>{session.get('count', 0)}</output>
      </p>
      <form action={increment}>
        <button type="submit">Count</button>
      </form>
    </main>
  );
}
