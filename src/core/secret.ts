import { ConfigError } from './errors.js';
import type { Logger } from './log.js';
import { resolveSecret, type Secret } from './signing.js';

/** The fix sessionkit's messages give for a weak secret. */
export const MAKE_A_SECRET = 'openssl rand -base64 48';

/** The shortest secret sessionkit signs with, in UTF-8 bytes (256 bits when random). */
export const MIN_SECRET_BYTES = 32;
/** A secret of fewer distinct characters is a pattern, not a key (e.g. 'aaaa…', 'abab…', whitespace). */
const MIN_DISTINCT_CHARACTERS = 8;

const encoder = new TextEncoder();

/** Why `secret` is too weak to sign with, or null when it is not. */
export function secretWeakness(secret: string): string | null {
  const bytes = encoder.encode(secret).length;
  if (bytes < MIN_SECRET_BYTES) return `it is ${bytes} bytes long, under ${MIN_SECRET_BYTES}`;
  if (secret.includes('\0')) return 'it holds a NUL character';
  if (secret.trim() === '') return 'it is only whitespace';
  const distinct = new Set(secret).size;
  if (distinct < MIN_DISTINCT_CHARACTERS) return `it has only ${distinct} distinct characters`;
  return null;
}

function describeKey(index: number, count: number): string {
  if (count === 1) return 'the secret';
  return index === 0 ? 'the current secret (the first)' : `rotation fallback #${index}`;
}

/**
 * A secret sessionkit owns (it signs what only sessionkit reads): every key, fallbacks included,
 * must be at least 32 bytes with some variety, or it is a ConfigError at construction; a short
 * secret is recovered offline from a single issued cookie, and with it any session can be forged.
 */
export function checkOwnSecret(secret: Secret, option = 'secret'): string[] {
  const keys = resolveSecret(secret, option);
  keys.forEach((key, i) => {
    const weakness = secretWeakness(key);
    if (weakness !== null) {
      throw new ConfigError(
        option,
        `${describeKey(i, keys.length)} is too weak to sign sessions with: ${weakness}; anyone holding one cookie could guess it offline and forge any session. Make one with \`${MAKE_A_SECRET}\` and keep it out of the source`,
      );
    }
  });
  return keys;
}

/**
 * A secret that belongs to another system (Django's SECRET_KEY, express-session's old secret):
 * sessionkit must take it as it is to read what that system wrote, so a weak one is accepted
 * with one warning, as Django's own check security.W009 does.
 */
export function checkForeignSecret(secret: Secret, options: { option?: string; owner: string; logger: Logger }): string[] {
  const keys = resolveSecret(secret, options.option ?? 'secret');
  const weak: string[] = [];
  keys.forEach((key, i) => {
    const weakness = secretWeakness(key);
    if (weakness !== null) weak.push(`${describeKey(i, keys.length)}: ${weakness}`);
  });
  if (weak.length > 0) {
    options.logger.warn(
      `${options.owner} is weak (${weak.join('; ')}); it is used as given, since that system signs with it too, but anyone holding one of its cookies or tokens could guess it offline. Rotate it there to a strong one (\`${MAKE_A_SECRET}\`)`,
      { security: true, option: options.option ?? 'secret' },
    );
  }
  return keys;
}
