import { type ActionFunctionArgs, Form, type LoaderFunctionArgs, redirect, useLoaderData } from 'react-router';
import { getSession } from 'sessionkit/react-router';
import type { Data } from '../sessions.server';

// The session from the root middleware: committed after this loader or action, no commit call here.
export function loader({ context }: LoaderFunctionArgs) {
  const session = getSession<Data>(context);
  return { count: session.get('count', 0), notice: session.get('notice') ?? null };
}

export function action({ context }: ActionFunctionArgs) {
  const session = getSession<Data>(context);
  const count = session.get('count', 0) + 1;
  session.set('count', count);
  session.flash('notice', `Counted to ${count}.`);
  return redirect('/');
}

export default function Home() {
  const { count, notice } = useLoaderData<typeof loader>();
  return (
    <main>
      {notice ? <p role="status">{notice}</p> : null}
      <p>
        count=<output>{count}</output>
      </p>
      <Form method="post">
        <button type="submit">Count</button>
      </Form>
    </main>
  );
}
