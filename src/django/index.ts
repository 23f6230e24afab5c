/**
 * `sessionkit/django`: a TypeScript app as a full peer of a Django site on the same sessions.
 * See the README, "Running beside Django".
 */
export { DjangoStore, djangoStoreFromUrl, type DjangoStoreOptions } from './store.js';
export { djangoCodec, DJANGO_SESSION_SALT, type DjangoCodec, type DjangoCodecOptions } from './codec.js';
export { djangoUser, verifyDjangoUserHash, sessionAuthHash, type DjangoUser } from './auth.js';
