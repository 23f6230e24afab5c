/**
 * The shape of your sessions, declared once for the whole app:
 *
 * ```ts
 * declare module 'sessionkit' {
 *   interface SessionTypes {
 *     data: { count: number; user: string; cart: string[] };
 *   }
 * }
 * ```
 *
 * Then `createSessions()`, `req.session` (Express), `request.session` (Fastify), Hono's
 * `SessionEnv` and every `getSession(...)` are `Session<that data>`, with no type argument and no
 * cast. Without the declaration a session holds `Record<string, any>`. A type argument
 * (`createSessions<Data>()`, `SessionEnv<Data>`) still wins where one is given.
 */
// biome-ignore lint/suspicious/noEmptyInterface: declared empty so that users can augment it
export interface SessionTypes {}

/** The session data declared in {@link SessionTypes}, or `Record<string, any>` when none is. */
export type DeclaredSessionData = SessionTypes extends { data: infer Data extends Record<string, any> } ? Data : Record<string, any>;
