// Masked CSRF tokens (BREACH): the session keeps one secret; every page gets it XORed with a fresh
// random mask, prefixed by the mask, so no two responses carry the same bytes and a compression
// oracle has nothing constant to find. Django does the same since 1.10 (`_mask_cipher_secret`,
// https://docs.djangoproject.com/en/stable/ref/csrf/#how-it-works); https://breachattack.com.
import { fillRandom, fromBase64url, toBase64url } from './crypto.js';

const encoder = new TextEncoder();
const TOKEN_RE = /^[A-Za-z0-9_-]+$/;
const OWN_SECRET_RE = /^[A-Za-z0-9_-]{43}$/;

/** The secret's bytes: our own (32 bytes as base64url) decoded, any other (a Django site's) as UTF-8. */
function secretBytes(secret: string): Uint8Array {
  return OWN_SECRET_RE.test(secret) ? fromBase64url(secret) : encoder.encode(secret);
}

/** A new secret for the session: 32 random bytes, base64url (43 characters). */
export function newCsrfSecret(): string {
  return toBase64url(fillRandom(new Uint8Array(32)));
}

/** The secret masked anew: base64url of a random mask followed by the secret's bytes XOR the mask. */
export function maskCsrfSecret(secret: string): string {
  const plain = secretBytes(secret);
  const out = new Uint8Array(plain.length * 2);
  fillRandom(out.subarray(0, plain.length));
  for (let i = 0; i < plain.length; i++) out[plain.length + i] = plain[i]! ^ out[i]!;
  return toBase64url(out);
}

/**
 * Whether `token` is `secret` masked (any mask), compared in constant time for tokens of the
 * right length. The bare secret is accepted too (as Django accepts it): pages rendered before
 * tokens were masked keep working, and no response carries the bare secret any more.
 */
export function csrfTokenMatches(secret: string, token: string): boolean {
  const plain = secretBytes(secret);
  const length = plain.length * 2;
  if (token.length === Math.ceil((length * 4) / 3) && TOKEN_RE.test(token)) {
    const bytes = fromBase64url(token);
    // only the canonical encoding: a last character that differs in its unused bits is another token
    if (bytes.length !== length || toBase64url(bytes) !== token) return false;
    let diff = 0;
    for (let i = 0; i < plain.length; i++) diff |= bytes[plain.length + i]! ^ bytes[i]! ^ plain[i]!;
    return diff === 0;
  }
  if (token.length !== secret.length) return false;
  let diff = 0;
  for (let i = 0; i < secret.length; i++) diff |= secret.charCodeAt(i) ^ token.charCodeAt(i);
  return diff === 0;
}
