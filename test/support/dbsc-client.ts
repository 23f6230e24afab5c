/**
 * A software DBSC client that follows the W3C draft as a browser does: it keeps cookies, reads
 * `Secure-Session-Registration` from responses, makes a Web Crypto key pair (ES256 or RS256),
 * registers it with a hand-built `dbsc+jwt` proof, and refreshes the bound cookie through the
 * 403 challenge flow. It also builds proofs an attacker would (other keys, replayed challenges),
 * for the security tests.
 */
import { webcrypto } from 'node:crypto';

const subtle = webcrypto.subtle;

export type Alg = 'ES256' | 'RS256';

const b64url = (bytes: Uint8Array | ArrayBuffer) => Buffer.from(bytes as ArrayBuffer).toString('base64url');
const jsonPart = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

export interface KeyPair {
  alg: Alg;
  privateKey: webcrypto.CryptoKey;
  jwk: Record<string, string>;
}

export async function makeKey(alg: Alg): Promise<KeyPair> {
  const params =
    alg === 'ES256'
      ? { name: 'ECDSA', namedCurve: 'P-256' }
      : { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' };
  const pair = (await subtle.generateKey(params, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const full = (await subtle.exportKey('jwk', pair.publicKey)) as Record<string, string>;
  const jwk: Record<string, string> =
    alg === 'ES256' ? { kty: 'EC', crv: 'P-256', x: full.x!, y: full.y! } : { kty: 'RSA', n: full.n!, e: full.e! };
  return { alg, privateKey: pair.privateKey, jwk };
}

/** A compact JWS over `header` and `payload`, signed with `key` (ES256: raw r‖s, as JWS has it). */
export async function signJwt(key: KeyPair, header: Record<string, unknown>, payload: Record<string, unknown>): Promise<string> {
  const input = `${jsonPart(header)}.${jsonPart(payload)}`;
  const params = key.alg === 'ES256' ? { name: 'ECDSA', hash: 'SHA-256' } : { name: 'RSASSA-PKCS1-v1_5' };
  const signature = await subtle.sign(params, key.privateKey, new TextEncoder().encode(input));
  return `${input}.${b64url(signature)}`;
}

/** A proof as the spec has it: registration carries the public key as `jwk`, refresh does not. */
export function proof(key: KeyPair, jti: string, options: { withJwk: boolean; authorization?: string }): Promise<string> {
  const header: Record<string, unknown> = { alg: key.alg, typ: 'dbsc+jwt' };
  if (options.withJwk) header.jwk = key.jwk;
  const payload: Record<string, unknown> = { jti };
  if (options.authorization !== undefined) payload.authorization = options.authorization;
  return signJwt(key, header, payload);
}

/** The parameters of an sf-list item such as `(ES256 RS256);path="/x";challenge="c"`. */
export function sfParams(value: string): { items: string[]; params: Record<string, string> } {
  const close = value.indexOf(')');
  const items = value
    .slice(value.indexOf('(') + 1, close)
    .split(/\s+/)
    .filter(Boolean);
  const params: Record<string, string> = {};
  for (const m of value.slice(close + 1).matchAll(/;\s*([a-z_]+)=("(?:[^"\\]|\\.)*"|[^;]*)/g)) {
    params[m[1]!] = m[2]!.startsWith('"') ? JSON.parse(m[2]!) : m[2]!;
  }
  return { items, params };
}

/** `"challenge";id="session"` → its parts. */
export function parseChallenge(value: string): { challenge: string; id: string } {
  const m = /^"((?:[^"\\]|\\.)*)"\s*;\s*id="((?:[^"\\]|\\.)*)"/.exec(value.trim());
  if (!m) throw new Error(`not a Secure-Session-Challenge: ${value}`);
  return { challenge: m[1]!, id: m[2]! };
}

export interface Instructions {
  session_identifier: string;
  refresh_url: string;
  scope: { origin?: string; include_site: boolean };
  credentials: { type: string; name: string; attributes: string }[];
  continue?: boolean;
}

/** A browser-like client of one origin: cookies, the DBSC session it registered, and its key. */
export class DbscClient {
  readonly base: string;
  readonly cookies = new Map<string, string>();
  key: KeyPair | null = null;
  alg: Alg;
  /** The registration header of the last response that carried one. */
  registration: { path: string; challenge: string; authorization?: string; algs: string[] } | null = null;
  instructions: Instructions | null = null;
  /** Every response status seen, in order (for the tests' assertions). */
  readonly log: string[] = [];

  constructor(base: string, alg: Alg = 'ES256') {
    this.base = base;
    this.alg = alg;
  }

  get cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  /** A request with this client's cookies; Set-Cookie and Secure-Session-Registration are taken in, as a browser does. */
  async fetch(path: string, init: Omit<RequestInit, 'headers'> & { headers?: Record<string, string> } = {}): Promise<Response> {
    const headers: Record<string, string> = { ...init.headers };
    if (this.cookies.size > 0 && headers.cookie === undefined) headers.cookie = this.cookieHeader;
    const res = await fetch(this.base + path, { ...init, headers, redirect: 'manual' });
    this.take(res);
    this.log.push(`${init.method ?? 'GET'} ${path} ${res.status}`);
    return res;
  }

  take(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      if (attrs.some((a) => /^\s*max-age=0\s*$/i.test(a))) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    const reg = res.headers.get('secure-session-registration');
    if (reg !== null) {
      const { items, params } = sfParams(reg);
      this.registration = { path: params.path!, challenge: params.challenge!, authorization: params.authorization, algs: items };
    }
  }

  /** What the browser does after a registration header: a new key, a proof with its jwk, POST to the path. */
  async register(): Promise<Response> {
    const reg = this.registration;
    if (reg === null) throw new Error('no Secure-Session-Registration seen');
    if (!reg.algs.includes(this.alg)) throw new Error(`the server does not offer ${this.alg}: ${reg.algs.join(' ')}`);
    this.key = await makeKey(this.alg);
    const jwt = await proof(this.key, reg.challenge, { withJwk: true, authorization: reg.authorization });
    const res = await this.fetch(reg.path, { method: 'POST', headers: { 'Secure-Session-Response': jwt } });
    if (res.status === 200) {
      const body = (await res.clone().json()) as Instructions;
      if (body.continue !== false) this.instructions = body;
    }
    return res;
  }

  /** The refresh as the spec runs it: without a proof first, then, on 403, signing the challenge it carries. */
  async refresh(): Promise<{ first: Response; final: Response }> {
    if (this.instructions === null || this.key === null) throw new Error('no registered session');
    const id = this.instructions.session_identifier;
    const first = await this.fetch(this.instructions.refresh_url, { method: 'POST', headers: { 'Sec-Secure-Session-Id': id } });
    if (first.status !== 403) return { first, final: first };
    const { challenge } = parseChallenge(first.headers.get('secure-session-challenge')!);
    const jwt = await proof(this.key, challenge, { withJwk: false });
    const final = await this.fetch(this.instructions.refresh_url, {
      method: 'POST',
      headers: { 'Sec-Secure-Session-Id': id, 'Secure-Session-Response': jwt },
    });
    return { first, final };
  }

  /** Only the session cookie, as malware copying it to another machine would have it. */
  stolen(sessionCookie = 'sessionid'): DbscClient {
    const thief = new DbscClient(this.base, this.alg);
    const value = this.cookies.get(sessionCookie);
    if (value !== undefined) thief.cookies.set(sessionCookie, value);
    return thief;
  }
}
