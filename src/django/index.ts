/**
 * `sessionkit/django`: a TypeScript app as a full peer of a Django site on the same sessions.
 * See docs/django.md. Importing it teaches `createStore` (and the CLI) the `django+sqlite:` and
 * `django+postgres://` store URLs.
 *
 * @module sessionkit/django
 */
import type { StoreFactory } from '../stores/url.js';
import { registerStoreScheme } from '../stores/url.js';
import { DjangoStore } from './store.js';

const fromUrl: StoreFactory = (url, options) => DjangoStore.fromUrl(url, options);
registerStoreScheme('django+sqlite:', fromUrl, { isUrl: false });
registerStoreScheme('django+postgres:', fromUrl);
registerStoreScheme('django+postgresql:', fromUrl);

export { DjangoStore, type DjangoStoreOptions } from './store.js';
export { djangoCodec, DJANGO_SESSION_SALT, type DjangoCodec, type DjangoCodecOptions } from './codec.js';
export { djangoUser, verifyDjangoUserHash, sessionAuthHash, type DjangoUser, type SessionLike } from './auth.js';
