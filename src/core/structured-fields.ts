// Structured fields (RFC 9651) as DBSC uses them.

/**
 * The string an inbound DBSC header carries: a structured-field string (`"…"`, parameters after
 * it ignored) or, as Chrome sends `Secure-Session-Response` and `Sec-Secure-Session-Id`, bare.
 */
export function sfStringValue(value: string | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  const v = value.trim();
  if (v === '') return null;
  if (v.charCodeAt(0) !== 0x22) {
    const semi = v.indexOf(';');
    const bare = (semi === -1 ? v : v.slice(0, semi)).trim();
    return bare === '' ? null : bare;
  }
  let out = '';
  for (let i = 1; i < v.length; i++) {
    const c = v[i]!;
    if (c === '\\') {
      const next = v[i + 1];
      if (next !== '"' && next !== '\\') return null;
      out += next;
      i++;
    } else if (c === '"') return out;
    else {
      const code = c.charCodeAt(0);
      if (code < 0x20 || code > 0x7e) return null;
      out += c;
    }
  }
  return null; // no closing quote
}

/** An sf-string: quoted, with `"` and `\` escaped (our values are base64url and hex: nothing to escape). */
export function sfString(value: string): string {
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}
