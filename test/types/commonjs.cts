// A CommonJS TypeScript project (module node16, no "type": "module"): import compiles to require,
// and the types come from the CommonJS build (no TS1479).
import { createSessions, MemoryStore } from 'sessionkit';
import { sessionMiddleware } from 'sessionkit/hono';

export const sessions = createSessions({ store: new MemoryStore() });
export const middleware = sessionMiddleware(sessions);
