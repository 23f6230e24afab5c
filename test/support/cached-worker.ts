// One app process of a site that runs a CachedStore: a Redis cache (node-redis client) in front of
// a SQLite file shared with the other processes. Driven over IPC by test/cached-logout.test.ts:
// each message { id, op, cookie?, data? } gets one reply { id, ... }.
import { createClient } from 'redis';
import { createSessions, SessionError } from '../../src/index.js';
import { CachedStore } from '../../src/stores/cached.js';
import { RedisStore } from '../../src/stores/redis.js';
import { SqliteStore } from '../../src/stores/sqlite.js';

const [redisUrl, path] = process.argv.slice(2) as [string, string];
const quiet = { warn() {}, error() {} };
const client = createClient({ url: redisUrl });
await client.connect();
const store = new CachedStore({
  cache: new RedisStore({ client, timeout: 500, logger: quiet }),
  store: new SqliteStore({ path, logger: quiet }),
  logger: quiet,
});
const sessions = createSessions<Record<string, unknown>>({ store, logger: quiet });

interface Message {
  id: number;
  op: 'save' | 'load' | 'logout' | 'revoke';
  cookie?: string;
  /** The public id of the session to revoke. */
  sessionId?: string;
  data?: Record<string, unknown>;
}

async function handle(message: Message): Promise<Record<string, unknown>> {
  if (message.op === 'revoke') return { revoked: await sessions.revokeSession(message.sessionId!) };
  const session = await sessions.load(message.cookie);
  if (message.op === 'load') return { key: session.key, data: Object.fromEntries(session.entries()) };
  if (message.op === 'save') {
    session.update(message.data ?? {});
    return { cookie: (await sessions.commit(session))?.split(';')[0] };
  }
  await session.flush();
  return { setCookie: await sessions.commit(session) };
}

process.on('message', (message: Message) => {
  handle(message).then(
    (reply) => process.send!({ id: message.id, ...reply }),
    (err: unknown) =>
      process.send!({ id: message.id, error: err instanceof SessionError ? err.code : String((err as Error)?.message ?? err) }),
  );
});
process.on('disconnect', () => process.exit(0));
process.send!({ id: 0, ready: true });
