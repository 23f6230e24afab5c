import { createSessions, createStore } from 'sessionkit';

export type Data = { count: number };

// One Sessions for the whole server. The default store is SQLite at ./sessions.sqlite3 (better-sqlite3
// is found at run time, no next.config needed); SESSION_STORE picks another (redis://…, postgres://…).
export const sessions = createSessions<Data>(process.env.SESSION_STORE ? { store: createStore(process.env.SESSION_STORE) } : {});
