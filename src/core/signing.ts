import { compression } from './compress.js';
import { fromBase64url, fromLatin1, hashing, timingSafeEqual, toBase64url, toLatin1 } from './crypto.js';
import { ConfigError, SessionDataError } from './errors.js';

/**
 * Django's `django.core.signing.dumps` / `loads` (Django ≥ 3.1, SHA-256), byte for byte:
 *
 *   token = PAYLOAD ":" BASE62(unix seconds) ":" B64URL(HMAC_SHA256(sha256(salt + "signer" + secret), PAYLOAD ":" TS))
 *   PAYLOAD = ["."] B64URL(zlib(JSON))   — "." and zlib only when compressing saves ≥ 2 bytes
 *
 * JSON is written as Python's `json.dumps(obj, separators=(",", ":"))` writes it (ASCII only).
 * See https://github.com/django/django/blob/main/django/core/signing.py
 */

/** `string | string[]`: the first key signs, every key verifies (Django's SECRET_KEY + SECRET_KEY_FALLBACKS). */
export type Secret = string | readonly string[];

/** The largest JSON a compressed payload may inflate to, in bytes (zip-bomb guard). @default 8 MiB */
export const DEFAULT_MAX_DECOMPRESSED = 8 * 1024 * 1024;

const B62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Django's `b62_encode`. */
export function b62encode(n: number): string {
  if (!Number.isSafeInteger(n)) throw new RangeError('b62encode takes a safe integer');
  if (n === 0) return '0';
  const sign = n < 0 ? '-' : '';
  let rest = Math.abs(n);
  let out = '';
  while (rest > 0) {
    out = B62[rest % 62] + out;
    rest = Math.floor(rest / 62);
  }
  return sign + out;
}

/** Django's `b62_decode`; null on a character outside the alphabet (Python raises ValueError there). */
export function b62decode(text: string): number | null {
  if (text === '0') return 0;
  let sign = 1;
  if (text.startsWith('-')) {
    sign = -1;
    text = text.slice(1);
  }
  if (text === '') return null;
  let n = 0;
  for (const ch of text) {
    const d = B62.indexOf(ch);
    if (d < 0) return null;
    n = n * 62 + d;
  }
  return Number.isSafeInteger(n) ? sign * n : null;
}

/** Django's `salted_hmac(key_salt, value, secret, algorithm="sha256")`. */
export function saltedHmac(keySalt: string, value: string | Uint8Array, secret: string): Uint8Array {
  return hashing.hmacSha256(hashing.sha256(keySalt + secret), value);
}

// ---------------------------------------------------------------------------------------------
// Python-compatible JSON

const SHORT: Record<number, string> = { 0x22: '\\"', 0x5c: '\\\\', 0x0a: '\\n', 0x0d: '\\r', 0x09: '\\t', 0x08: '\\b', 0x0c: '\\f' };

/** A string as Python's `json.dumps(..., ensure_ascii=True)` writes it: one lowercase \uXXXX per UTF-16 unit outside 0x20..0x7e. */
export function pythonString(s: string): string {
  let out = '"';
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x20 && c <= 0x7e && c !== 0x22 && c !== 0x5c) continue;
    if (i > start) out += s.slice(start, i);
    out += SHORT[c] ?? '\\u' + c.toString(16).padStart(4, '0');
    start = i + 1;
  }
  return out + s.slice(start) + '"';
}

/**
 * A number as Python spells it. JavaScript has one number type, so the choice is ours:
 * a number with no fractional part is written as a Python int (`2`, `10000000000000000`),
 * anything else as Python's `repr(float)` (`0.5`, `1e-05`, `1.5e-07`). Django reads `2` back as
 * the int 2 where it may have written the float `2.0`; the two compare equal in Python.
 * NaN and ±Infinity are written as Python writes them (bare `NaN`, `Infinity`), though
 * sessions never hold them (Session.set rejects them).
 */
export function pythonNumber(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return 'Infinity';
  if (n === -Infinity) return '-Infinity';
  if (Number.isInteger(n)) return Object.is(n, -0) ? '0' : BigInt(n).toString();
  // Shortest round-trip digits, as both JS and Python use; only the layout differs.
  const [mantissa, expText] = n.toExponential().split('e') as [string, string];
  const exp = Number(expText);
  const neg = mantissa.startsWith('-');
  const digits = mantissa.replace('-', '').replace('.', '');
  let body: string;
  if (exp < -4 || exp >= 16) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    body = `${m}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  } else if (exp < 0) {
    body = `0.${'0'.repeat(-exp - 1)}${digits}`;
  } else if (digits.length > exp + 1) {
    body = `${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`;
  } else {
    body = `${digits}${'0'.repeat(exp + 1 - digits.length)}.0`;
  }
  return neg ? `-${body}` : body;
}

/**
 * `json.dumps(value, separators=(",", ":"))` as CPython writes it: ASCII only, insertion order
 * of keys (JavaScript lists integer-like keys first; Python keeps them where they were written).
 */
export function pythonJson(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return pythonString(value);
    case 'number':
      return pythonNumber(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : pythonJson(v))).join(',')}]`;
      const toJSON = (value as { toJSON?: () => unknown }).toJSON;
      if (typeof toJSON === 'function') return pythonJson(toJSON.call(value));
      const parts: string[] = [];
      for (const [k, v] of Object.entries(value)) {
        if (v === undefined || typeof v === 'function' || typeof v === 'symbol') continue;
        parts.push(`${pythonString(k)}:${pythonJson(v)}`);
      }
      return `{${parts.join(',')}}`;
    }
    default:
      throw new TypeError(`sessionkit: cannot write a ${typeof value} as JSON`);
  }
}

/**
 * JSON.parse that also takes the bare NaN / Infinity / -Infinity that Python's json writes,
 * reading them as null (sessions hold only finite numbers).
 */
export function parsePythonJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    if (!/NaN|Infinity/.test(text)) throw err;
  }
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (inString) {
      out += c;
      if (c === '\\') out += text[++i] ?? '';
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
      out += c;
    } else if (text.startsWith('NaN', i)) {
      out += 'null';
      i += 2;
    } else if (text.startsWith('-Infinity', i)) {
      out += 'null';
      i += 8;
    } else if (text.startsWith('Infinity', i)) {
      out += 'null';
      i += 7;
    } else out += c;
  }
  return JSON.parse(out);
}

// ---------------------------------------------------------------------------------------------
// Signer

export interface SignerOptions {
  /** SECRET_KEY, or [SECRET_KEY, ...SECRET_KEY_FALLBACKS]. */
  secret: Secret;
  /** Django's salt, e.g. "django.contrib.sessions.SessionStore". */
  salt: string;
  /** Cap on the inflated size of a compressed payload, in bytes. @default 8 MiB */
  maxDecompressed?: number;
}

export type Unsigned =
  | { ok: true; value: unknown; timestamp: number }
  /** `signature`: no key verifies it (tampered, or another secret or salt); `expired`: older than max_age; `malformed`: verified but does not decode. */
  | { ok: false; reason: 'signature' | 'expired' | 'malformed' };

export interface Signer {
  /**
   * `signing.dumps(value, salt=salt, compress=True)` at `now` (milliseconds). Throws
   * SessionDataError when the JSON is larger than `maxDecompressed`: what `loads` would refuse is never signed.
   */
  dumps(value: unknown, now?: number): string;
  /** `signing.loads(token, salt=salt, max_age=maxAge)`; never throws. `maxAge` in seconds. */
  loads(token: string, options?: { maxAge?: number; now?: number }): Unsigned;
}

/** Checks a `secret` option: a non-empty string or a non-empty array of them. */
export function resolveSecret(secret: unknown, option = 'secret'): string[] {
  const keys = typeof secret === 'string' ? [secret] : Array.isArray(secret) ? [...secret] : null;
  if (!keys || keys.length === 0 || keys.some((k) => typeof k !== 'string' || k === '')) {
    throw new ConfigError(
      option,
      "give a non-empty string (Django's SECRET_KEY), or an array of them whose first signs and every one verifies (SECRET_KEY, ...SECRET_KEY_FALLBACKS)",
    );
  }
  return keys as string[];
}

/** A signer for one salt; HMAC keys are derived once, here. */
export function createSigner(options: SignerOptions): Signer {
  const keys = resolveSecret(options.secret).map((secret) => hashing.sha256(`${options.salt}signer${secret}`));
  const maxDecompressed = options.maxDecompressed ?? DEFAULT_MAX_DECOMPRESSED;
  const sig = (key: Uint8Array, value: string) => hashing.hmacSha256Base64url(key, value);

  return {
    dumps(value, now = Date.now()) {
      const data = fromLatin1(pythonJson(value)); // pure ASCII
      if (data.length > maxDecompressed) {
        throw new SessionDataError(
          `the session's data is ${data.length} bytes of JSON, over the ${maxDecompressed} bytes this signer reads back (its decompression cap); store less in the session`,
        );
      }
      let payload: string;
      const compressed = compression.deflate(data);
      if (compressed.length < data.length - 1) payload = '.' + toBase64url(compressed);
      else payload = toBase64url(data);
      const signed = `${payload}:${b62encode(Math.floor(now / 1000))}`;
      return `${signed}:${sig(keys[0]!, signed)}`;
    },

    loads(token, { maxAge, now = Date.now() } = {}) {
      if (typeof token !== 'string') return { ok: false, reason: 'signature' };
      const cut = token.lastIndexOf(':');
      if (cut < 0) return { ok: false, reason: 'signature' };
      const value = token.slice(0, cut);
      const given = token.slice(cut + 1);
      let verified = false;
      for (const key of keys) {
        if (timingSafeEqual(sig(key, value), given)) {
          verified = true;
          break;
        }
      }
      if (!verified) return { ok: false, reason: 'signature' };
      // Past this point the token is one we (or a holder of our secret) made.
      const tsCut = value.lastIndexOf(':');
      if (tsCut < 0) return { ok: false, reason: 'malformed' };
      const timestamp = b62decode(value.slice(tsCut + 1));
      if (timestamp === null) return { ok: false, reason: 'malformed' };
      if (maxAge !== undefined && now / 1000 - timestamp > maxAge) return { ok: false, reason: 'expired' };
      let payload = value.slice(0, tsCut);
      const compressed = payload.startsWith('.');
      if (compressed) payload = payload.slice(1);
      try {
        let data = fromBase64url(payload);
        if (compressed) data = compression.inflate(data, maxDecompressed);
        // Django decodes as latin-1: a producer that wrote raw UTF-8 gets mojibake there, and here.
        return { ok: true, value: parsePythonJson(toLatin1(data)), timestamp };
      } catch {
        return { ok: false, reason: 'malformed' };
      }
    },
  };
}
