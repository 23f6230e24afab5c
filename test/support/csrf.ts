import assert from 'node:assert/strict';

/** What a browser sends with a POST from another site: the Fetch Metadata verdicts, or a foreign Origin. */
export const OTHER_SITE_HEADERS: Record<string, string>[] = [
  { 'sec-fetch-site': 'cross-site' },
  { 'sec-fetch-site': 'same-site' },
  { origin: 'https://evil.example' },
];

/**
 * Sends a POST through `post` with each of OTHER_SITE_HEADERS and checks that csrfProtection
 * refused it (403, a text matching `text`) before the application's code ran (no Set-Cookie).
 */
export async function assertOtherSitesRefused(
  post: (headers: Record<string, string>) => Promise<Response>,
  text: RegExp,
  ranWhat: string,
): Promise<void> {
  for (const headers of OTHER_SITE_HEADERS) {
    const refused = await post(headers);
    assert.equal(refused.status, 403, JSON.stringify(headers));
    assert.match(await refused.text(), text);
    assert.deepEqual(refused.headers.getSetCookie(), [], `the ${ranWhat} did not run`);
  }
}
