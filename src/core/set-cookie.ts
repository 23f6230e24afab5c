/*
 * `Set-Cookie` serialization and parsing, as jshttp/cookie 1.x's `serialize` and `parseSetCookie`
 * do them (same validation, same TypeError messages; MIT, (c) Roman Shtylman, Douglas Christopher
 * Wilson), kept here so that sessionkit has no `cookie` dependency: an app's `cookie` (SvelteKit 2
 * types against cookie 0.6) is never replaced by sessionkit's, and Worker bundles stay small.
 */

/** cookie-name: RFC 6265 §4.1.1 token, widened as jshttp/cookie does (jshttp/cookie#191). */
const cookieNameRegExp = /^[\u0021-\u003A\u003C\u003E-\u007E]+$/;
/** cookie-value: RFC 6265 §4.1.1 cookie-octet, widened as jshttp/cookie does. */
const cookieValueRegExp = /^[\u0021-\u003A\u003C-\u007E]*$/;
/** domain-value: RFC 6265 §4.1.1 (RFC 1034 §3.5, RFC 1123 §2.1), a leading dot allowed. */
const domainValueRegExp = /^([.]?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)([.][a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;
/** path-value: RFC 6265 §4.1.1, any CHAR except CTLs or ";". */
const pathValueRegExp = /^[\u0020-\u003A\u003D-\u007E]*$/;
/** max-age-value: RFC 6265 §5.6.2. */
const maxAgeRegExp = /^-?\d+$/;

/** The options of `serialize`, as jshttp/cookie's `SerializeOptions`. */
export interface SerializeOptions {
  encode?: (value: string) => string;
  maxAge?: number;
  expires?: Date;
  domain?: string;
  path?: string;
  httpOnly?: boolean;
  secure?: boolean;
  partitioned?: boolean;
  priority?: 'low' | 'medium' | 'high';
  sameSite?: boolean | 'lax' | 'strict' | 'none';
}

/** A parsed `Set-Cookie` header, as jshttp/cookie's `parseSetCookie` answers it. */
export interface SetCookie extends Omit<SerializeOptions, 'encode'> {
  name: string;
  value: string;
}

/** `name=value` with its attributes, as a `Set-Cookie` header value; throws TypeError on an invalid part. */
export function serialize(name: string, value: string, options: SerializeOptions = {}): string {
  const encode = options.encode ?? encodeURIComponent;
  if (!cookieNameRegExp.test(name)) throw new TypeError(`argument name is invalid: ${name}`);
  const encoded = value ? encode(value) : '';
  if (!cookieValueRegExp.test(encoded)) throw new TypeError(`argument val is invalid: ${value}`);
  let str = `${name}=${encoded}`;
  if (options.maxAge !== undefined) {
    if (!Number.isInteger(options.maxAge)) throw new TypeError(`option maxAge is invalid: ${options.maxAge}`);
    str += `; Max-Age=${options.maxAge}`;
  }
  if (options.domain) {
    if (!domainValueRegExp.test(options.domain)) throw new TypeError(`option domain is invalid: ${options.domain}`);
    str += `; Domain=${options.domain}`;
  }
  if (options.path) {
    if (!pathValueRegExp.test(options.path)) throw new TypeError(`option path is invalid: ${options.path}`);
    str += `; Path=${options.path}`;
  }
  if (options.expires) {
    const { expires } = options;
    if (!(expires instanceof Date) || !Number.isFinite(expires.valueOf())) throw new TypeError(`option expires is invalid: ${expires}`);
    str += `; Expires=${expires.toUTCString()}`;
  }
  if (options.httpOnly) str += '; HttpOnly';
  if (options.secure) str += '; Secure';
  if (options.partitioned) str += '; Partitioned';
  if (options.priority) {
    const priority = typeof options.priority === 'string' ? options.priority.toLowerCase() : undefined;
    if (priority !== 'low' && priority !== 'medium' && priority !== 'high')
      throw new TypeError(`option priority is invalid: ${options.priority}`);
    str += `; Priority=${priority[0]!.toUpperCase()}${priority.slice(1)}`;
  }
  if (options.sameSite) {
    const sameSite = typeof options.sameSite === 'string' ? options.sameSite.toLowerCase() : options.sameSite;
    if (sameSite === true || sameSite === 'strict') str += '; SameSite=Strict';
    else if (sameSite === 'lax') str += '; SameSite=Lax';
    else if (sameSite === 'none') str += '; SameSite=None';
    else throw new TypeError(`option sameSite is invalid: ${options.sameSite}`);
  }
  return str;
}

function decode(str: string): string {
  if (str.indexOf('%') === -1) return str;
  try {
    return decodeURIComponent(str);
  } catch {
    return str;
  }
}

/** The text between `from` and `to`, without surrounding spaces and tabs. */
function trimmed(str: string, from: number, to: number): string {
  let start = from;
  let end = to;
  while (start < end && (str.charCodeAt(start) === 0x20 || str.charCodeAt(start) === 0x09)) start++;
  while (end > start && (str.charCodeAt(end - 1) === 0x20 || str.charCodeAt(end - 1) === 0x09)) end--;
  return str.slice(start, end);
}

/** A `Set-Cookie` header value, parsed: its name, value and the attributes sessionkit writes. */
export function parseSetCookie(str: string): SetCookie {
  const len = str.length;
  const semicolon = (from: number) => {
    const i = str.indexOf(';', from);
    return i === -1 ? len : i;
  };
  const equals = (from: number, to: number) => {
    const i = str.indexOf('=', from);
    return i !== -1 && i < to ? i : -1;
  };
  const end = semicolon(0);
  const eq = equals(0, end);
  const cookie: SetCookie =
    eq === -1 ? { name: '', value: decode(trimmed(str, 0, end)) } : { name: trimmed(str, 0, eq), value: decode(trimmed(str, eq + 1, end)) };
  let index = end + 1;
  while (index < len) {
    const to = semicolon(index);
    const at = equals(index, to);
    const attribute = trimmed(str, index, at === -1 ? to : at).toLowerCase();
    const value = at === -1 ? undefined : trimmed(str, at + 1, to);
    if (attribute === 'httponly') cookie.httpOnly = true;
    else if (attribute === 'secure') cookie.secure = true;
    else if (attribute === 'partitioned') cookie.partitioned = true;
    else if (attribute === 'domain') cookie.domain = value;
    else if (attribute === 'path') cookie.path = value;
    else if (attribute === 'max-age') {
      if (value && maxAgeRegExp.test(value)) cookie.maxAge = Number(value);
    } else if (attribute === 'expires' && value) {
      const date = new Date(value);
      if (Number.isFinite(date.valueOf())) cookie.expires = date;
    } else if (attribute === 'priority' && value) {
      const priority = value.toLowerCase();
      if (priority === 'low' || priority === 'medium' || priority === 'high') cookie.priority = priority;
    } else if (attribute === 'samesite' && value) {
      const sameSite = value.toLowerCase();
      if (sameSite === 'lax' || sameSite === 'strict' || sameSite === 'none') cookie.sameSite = sameSite;
    }
    index = to + 1;
  }
  return cookie;
}
