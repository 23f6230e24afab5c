import { hmac } from '@noble/hashes/hmac';
import { sha256 } from '@noble/hashes/sha2';
import { bytesToHex } from '@noble/hashes/utils';
import { builtin } from './require.js';

/**
 * Hashing, randomness and byte encodings for every runtime. Where `node:crypto` exists (Node.js,
 * Bun, Deno, Workers with `nodejs_compat`) it does the hashing: `crypto.hash` costs about 0.5 µs
 * for a session key's digest where @noble/hashes costs several. Elsewhere (Workers without
 * `nodejs_compat`, edge runtimes) @noble/hashes does it, synchronously, with the same results.
 * Random bytes always come from Web Crypto's `getRandomValues`, which every runtime has.
 */
export interface Hashing {
  /** SHA-256 of a UTF-8 string, as lowercase hex. */
  sha256Hex(text: string): string;
  /** SHA-256 of a UTF-8 string. */
  sha256(text: string): Uint8Array;
  /** HMAC-SHA256 of `data` (a string is UTF-8) under `key`. */
  hmacSha256(key: Uint8Array, data: string | Uint8Array): Uint8Array;
  /** HMAC-SHA256 of a UTF-8 string under `key`, as unpadded base64url. */
  hmacSha256Base64url(key: Uint8Array, data: string): string;
}

type NodeCrypto = Pick<typeof import('node:crypto'), 'createHash' | 'createHmac'> & {
  /** Node.js ≥ 20.12: a digest without a Hash object. */
  hash?: (algorithm: string, data: string, encoding: 'hex') => string;
};

/** Hashing through `node` (a `node:crypto` module) when given, through @noble/hashes otherwise. */
export function makeHashing(node: NodeCrypto | undefined): Hashing {
  if (node && typeof node.createHash === 'function' && typeof node.createHmac === 'function') {
    const { createHash, createHmac } = node;
    const oneShot = typeof node.hash === 'function' ? node.hash : undefined;
    return {
      sha256Hex: oneShot ? (text) => oneShot('sha256', text, 'hex') : (text) => createHash('sha256').update(text, 'utf8').digest('hex'),
      sha256: (text) => createHash('sha256').update(text, 'utf8').digest(),
      hmacSha256: (key, data) => createHmac('sha256', key).update(data).digest(),
      hmacSha256Base64url: (key, data) => createHmac('sha256', key).update(data, 'utf8').digest('base64url'),
    };
  }
  return {
    sha256Hex: (text) => bytesToHex(sha256(text)),
    sha256: (text) => sha256(text),
    hmacSha256: (key, data) => hmac(sha256, key, data),
    hmacSha256Base64url: (key, data) => toBase64url(hmac(sha256, key, data)),
  };
}

/** The runtime's hashing: `node:crypto` where there is one. */
export const hashing: Hashing = makeHashing(builtin<NodeCrypto>('node:crypto'));

/** Fills `bytes` from the runtime's CSPRNG (Web Crypto, present in Node.js ≥ 19, Bun, Deno, Workers). */
export function fillRandom<T extends Uint8Array<ArrayBuffer>>(bytes: T): T {
  return globalThis.crypto.getRandomValues(bytes);
}

/**
 * Whether two strings are equal, in time that depends only on their lengths (for signatures,
 * tokens and hashes: an attacker learns nothing from how long a wrong guess takes).
 */
export function timingSafeEqual(a: string, b: string): boolean {
  if (typeof a !== 'string' || typeof b !== 'string' || a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

export { bytesToHex as toHex };

// ---------------------------------------------------------------------------------------------
// Byte encodings: Buffer where the runtime has it (fastest), plain JavaScript elsewhere.

type NodeBuffer = {
  from(data: Uint8Array | string, encoding?: string): Uint8Array & { toString(encoding: string): string };
  from(buffer: ArrayBufferLike, offset: number, length: number): Uint8Array & { toString(encoding: string): string };
  byteLength(text: string): number;
};
const NodeBuf = (globalThis as { Buffer?: NodeBuffer }).Buffer;

/** Unpadded base64url (RFC 4648 §5). */
export function toBase64url(bytes: Uint8Array): string {
  if (NodeBuf) return NodeBuf.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
  return btoa(toLatin1(bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Decodes base64url with or without padding; throws on a character outside the alphabet. */
export function fromBase64url(text: string): Uint8Array {
  if (NodeBuf) return NodeBuf.from(text, 'base64url');
  return fromLatin1(atob(text.replace(/-/g, '+').replace(/_/g, '/')));
}

/** One byte per character (the text must be Latin-1, e.g. ASCII JSON). */
export function fromLatin1(text: string): Uint8Array {
  if (NodeBuf) return NodeBuf.from(text, 'latin1');
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

/** One character per byte (Python's `bytes.decode('latin-1')`). */
export function toLatin1(bytes: Uint8Array): string {
  if (NodeBuf) return NodeBuf.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  let out = '';
  for (let i = 0; i < bytes.length; i += 0x8000) out += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return out;
}

const encoder = new TextEncoder();

/** The length of `text` in UTF-8, in bytes. */
export function utf8Length(text: string): number {
  return NodeBuf ? NodeBuf.byteLength(text) : encoder.encode(text).length;
}
