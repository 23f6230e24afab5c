import { createSessions, createStore } from 'sessionkit';
import { sessionStorage } from 'sessionkit/react-router';

export type Data = { count: number; notice: string; theme: string };

// SESSION_STORE picks the store (sqlite:./sessions.sqlite3 by default).
export const sessions = createSessions<Data>({ store: createStore(process.env.SESSION_STORE ?? 'sqlite:./sessions.sqlite3') });

// For code written against createSessionStorage / createCookieSessionStorage: the same three functions.
export const { getSession, commitSession, destroySession } = sessionStorage(sessions);
