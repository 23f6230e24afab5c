import { ConfigError } from './errors.js';
import { requireModule } from './require.js';

type Tldts = {
  parse(
    hostname: string,
    options: { allowPrivateDomains: boolean },
  ): { publicSuffix: string | null; isIcann: boolean | null; isPrivate: boolean | null };
};

/**
 * Whether `domain` (a cookie's Domain, with or without its leading dot) is a public suffix on the
 * Public Suffix List (https://publicsuffix.org), ICANN and private sections alike (`com`,
 * `co.uk`, `github.io`): browsers drop a cookie set for one (RFC 6265 §5.3 step 5).
 *
 * The list comes from the `tldts` package, loaded here with `require` and only when a `domain` is
 * set, never imported statically: it weighs about 135 KB minified, and a Worker bundle of an app
 * without a cookie domain holds none of it. Where no `require` can load it (a bundle for an edge
 * runtime), the check answers null (not known).
 */
export function isPublicSuffix(domain: string): boolean | null {
  let tldts: Tldts | null;
  try {
    tldts = requireModule<Tldts>('tldts');
  } catch {
    tldts = null;
  }
  if (tldts === null) return null;
  const host = domain.replace(/^\./, '').toLowerCase();
  const parsed = tldts.parse(host, { allowPrivateDomains: true }) as {
    publicSuffix: string | null;
    isIcann: boolean | null;
    isPrivate: boolean | null;
  };
  return parsed.publicSuffix === host && (parsed.isIcann === true || parsed.isPrivate === true);
}

/** ConfigError for a cookie domain that is a public suffix. */
export function checkCookieDomain(domain: string): void {
  if (isPublicSuffix(domain) === true) {
    throw new ConfigError(
      'cookie.domain',
      `${JSON.stringify(domain)} is a public suffix (on the Public Suffix List), for which browsers refuse cookies; give your own domain, e.g. ".example.com", or leave domain out for the current host`,
    );
  }
}
