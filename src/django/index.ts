/**
 * `sessionkit/django`: a TypeScript app as a full peer of a Django site on the same sessions.
 * See the README, "Running beside Django". Importing it teaches `createStore` (and the CLI) the
 * `django+sqlite:` and `django+postgres://` store URLs.
 */
import { registerStoreScheme } from '../stores/url.js';
import { djangoStoreFromUrl } from './store.js';

registerStoreScheme('django+sqlite:', djangoStoreFromUrl, { isUrl: false });
registerStoreScheme('django+postgres:', djangoStoreFromUrl);
registerStoreScheme('django+postgresql:', djangoStoreFromUrl);

export { DjangoStore, djangoStoreFromUrl, type DjangoStoreOptions } from './store.js';
export { djangoCodec, DJANGO_SESSION_SALT, type DjangoCodec, type DjangoCodecOptions } from './codec.js';
export { djangoUser, verifyDjangoUserHash, sessionAuthHash, type DjangoUser } from './auth.js';
