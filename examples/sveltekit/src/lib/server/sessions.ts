import { createSessions, createStore } from 'sessionkit';

export type Data = { count: number; notice: string };

// SESSION_STORE picks the store (sqlite:./sessions.sqlite3 by default).
export const sessions = createSessions<Data>({ store: createStore(process.env.SESSION_STORE ?? 'sqlite:./sessions.sqlite3') });
