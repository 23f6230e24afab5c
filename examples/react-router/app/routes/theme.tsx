import { type ActionFunctionArgs, data, type LoaderFunctionArgs } from 'react-router';
import { commitSession, getSession } from '../sessions.server';

// Written against React Router's SessionStorage API, unchanged: only the storage factory is sessionkit's.
export async function loader({ request }: LoaderFunctionArgs) {
  const session = await getSession(request.headers.get('Cookie'));
  const body = { theme: session.get('theme') ?? 'light', notice: session.get('notice') ?? null };
  return data(body, { headers: { 'Set-Cookie': await commitSession(session) } }); // the flash was read: commit
}

export async function action({ request }: ActionFunctionArgs) {
  const session = await getSession(request.headers.get('Cookie'));
  const theme = String((await request.formData()).get('theme'));
  session.set('theme', theme);
  session.flash('notice', `Theme set to ${theme}.`);
  return data({ theme }, { headers: { 'Set-Cookie': await commitSession(session) } });
}
