import type { Logger } from './log.js';
import { SessionDataError } from './errors.js';

/** Session data as stored: a JSON object. */
export type SessionData = Record<string, unknown>;

/**
 * How deeply values may nest (objects and arrays inside the session's top level). Deeper values
 * are refused by `set` (SessionDataError) and a stored session nested deeper loads as corrupt.
 */
export const MAX_DEPTH = 100;

/**
 * A session's data object: without a prototype, so `__proto__`, `constructor` and every other
 * name Object.prototype has are ordinary keys.
 */
export function emptyData(): SessionData {
  return Object.create(null) as SessionData;
}

/**
 * Loaded data as the engine keeps it: the same object, without a prototype (JSON.parse makes
 * `__proto__` an own property; only later writes through the prototype's setter would lose it).
 */
export function ownData(data: SessionData): SessionData {
  if (Object.getPrototypeOf(data) !== null) Object.setPrototypeOf(data, null);
  return data;
}

/** Whether every value in `data` nests at most MAX_DEPTH levels (a cheap walk over objects and arrays only). */
export function withinDepth(data: SessionData): boolean {
  for (const k in data) {
    const v = data[k];
    if (v !== null && typeof v === 'object' && !depthOk(v as object, 1)) return false;
  }
  return true;
}

function depthOk(value: object, depth: number): boolean {
  if (depth > MAX_DEPTH) return false;
  if (Array.isArray(value)) {
    for (const v of value) if (v !== null && typeof v === 'object' && !depthOk(v, depth + 1)) return false;
    return true;
  }
  for (const k in value) {
    const v = (value as Record<string, unknown>)[k];
    if (v !== null && typeof v === 'object' && !depthOk(v as object, depth + 1)) return false;
  }
  return true;
}

/**
 * Parses stored session data. Anything that is not a JSON object (garbage, a truncated write,
 * another program's format) reads as an empty session and is logged: it never becomes a 500.
 */
export function decodeData(text: string, logger: Logger, where: string): SessionData {
  try {
    const value: unknown = JSON.parse(text);
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) return value as SessionData;
  } catch {
    // fall through to the log below
  }
  logger.warn('session data corrupted; reading it as an empty session', { where });
  return {};
}

/** Serializes session data; a failure here is a bug in a caller that skipped `checkValue`. */
export function encodeData(data: SessionData): string {
  return JSON.stringify(data);
}

/**
 * Throws SessionDataError unless `value` survives a JSON round trip unchanged: only null,
 * booleans, finite numbers, strings, arrays without holes, and plain objects, without cycles.
 */
export function checkValue(key: string, value: unknown): void {
  const problem = findProblem(value, '', new Set(), 0);
  if (problem) {
    throw new SessionDataError(
      `the value for key ${JSON.stringify(key)} cannot be stored: ${problem}; store only JSON data (strings, finite numbers, booleans, null, arrays, plain objects) and convert the rest, e.g. a Date with toISOString()`,
      key,
    );
  }
}

function findProblem(value: unknown, path: string, seen: Set<object>, depth: number): string | null {
  const at = path === '' ? '' : ` at ${path}`;
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return null;
    case 'number':
      return Number.isFinite(value) ? null : `${value} is not a finite number${at}`;
    case 'undefined':
      return `undefined${at} is dropped by JSON`;
    case 'bigint':
      return `a BigInt${at}`;
    case 'symbol':
      return `a symbol${at}`;
    case 'function':
      return `a function${at}`;
  }
  if (value === null) return null;
  const obj = value as object;
  if (seen.has(obj)) return `a cycle${at}`;
  if (depth >= MAX_DEPTH) return `nesting deeper than ${MAX_DEPTH} levels${at}`;
  seen.add(obj);
  try {
    if (Array.isArray(obj)) {
      for (let i = 0; i < obj.length; i++) {
        if (!(i in obj)) return `a hole in an array at ${path}[${i}]`;
        const p = findProblem(obj[i], `${path}[${i}]`, seen, depth + 1);
        if (p) return p;
      }
      return null;
    }
    const proto = Object.getPrototypeOf(obj);
    if (proto !== Object.prototype && proto !== null) {
      const name = (obj as { constructor?: { name?: string } }).constructor?.name ?? 'object';
      return `a ${name}${at}, not a plain object`;
    }
    if (Object.getOwnPropertySymbols(obj).length > 0) return `a symbol-keyed property${at}`;
    for (const k of Object.keys(obj)) {
      const p = findProblem((obj as Record<string, unknown>)[k], path === '' ? k : `${path}.${k}`, seen, depth + 1);
      if (p) return p;
    }
    return null;
  } finally {
    seen.delete(obj);
  }
}
