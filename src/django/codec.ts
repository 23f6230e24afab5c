import { consoleLogger, type Logger } from '../core/log.js';
import { checkForeignSecret } from '../core/secret.js';
import { createSigner, type Secret } from '../core/signing.js';
import type { SessionData } from '../core/codec.js';

/**
 * Django's salt for session data kept on the server: `"django.contrib.sessions." + SessionStore.__qualname__`,
 * the same for the db, cached_db and file backends (a SessionStore subclass with another class name differs).
 */
export const DJANGO_SESSION_SALT = 'django.contrib.sessions.SessionStore';

export interface DjangoCodecOptions {
  /**
   * Django's SECRET_KEY, or [SECRET_KEY, ...SECRET_KEY_FALLBACKS]: the first signs, every one verifies.
   * Taken as it is (it is the Django site's); a weak one is warned about once, as Django's security.W009.
   */
  secret: Secret;
  /** The salt; only for a Django SessionStore subclass with another class name. @default 'django.contrib.sessions.SessionStore' */
  salt?: string;
  /** Where data that does not verify is reported (a security event, Django's `django.security.SuspiciousSession`). @default console */
  logger?: Logger;
}

export interface DjangoCodec {
  /** `SessionBase.encode(data)`: signed, ASCII-only JSON, compressed when that saves space. `now` in milliseconds. */
  encode(data: SessionData, now?: number): string;
  /** `SessionBase.decode(token)`; never throws: anything that does not verify or does not decode is `{}`. */
  decode(token: string): SessionData;
}

/** Encodes and decodes `django_session.session_data` exactly as Django ≥ 3.1 does (SHA-256 signatures). */
export function djangoCodec(options: DjangoCodecOptions): DjangoCodec {
  const logger = options?.logger ?? consoleLogger;
  const secret = checkForeignSecret(options?.secret, { owner: "Django's SECRET_KEY", logger });
  const signer = createSigner({ secret, salt: options?.salt ?? DJANGO_SESSION_SALT });
  return {
    encode: (data, now) => signer.dumps(data, now),
    decode(token) {
      const r = signer.loads(token);
      if (r.ok) {
        if (r.value !== null && typeof r.value === 'object' && !Array.isArray(r.value)) return r.value as SessionData;
        return {}; // verified but not a dict: Django main's decode swallows this silently too
      }
      // Django logs only BadSignature ("Session data corrupted"); other failures read as {} silently.
      if (r.reason === 'signature')
        logger.warn(
          'Session data corrupted: the signature does not verify (tampered, another secret or salt); reading it as an empty session',
          { security: true, logger: 'django.security.SuspiciousSession' },
        );
      return {};
    },
  };
}
