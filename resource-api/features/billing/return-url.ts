export interface ReturnUrlPolicy {
  /** Exact origins a return URL may point to (e.g. `https://app.example.com`). */
  allowedOrigins: readonly string[];
  /** Accept `http:` for localhost, 127.0.0.1 and [::1] (development only). */
  allowHttpLocalhost: boolean;
}

export type ReturnUrlVerdict = { ok: true; url: URL } | { ok: false; reason: string };

const MAX_LENGTH = 2048;
const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);
// Printable ASCII without space: rules out control characters, whitespace (which WHATWG strips
// or drops silently) and Unicode look-alikes (fullwidth dots, Cyrillic letters) in one test.
const PRINTABLE_ASCII = /^[\x21-\x7e]+$/;
// Absolute with an authority: refuses `//host`, `https:host`, `https:/host` and `https:///host`,
// which WHATWG would all "fix" into https://host/.
const ABSOLUTE = /^https?:\/\/[^/]/i;
// Encoded `/`, `\`, `%` (double encoding) and control characters: proxies, frameworks and the
// frontend's own router may decode them into a path or host that was never validated.
const ENCODED_TRICK = /%(?:2f|5c|25|[01][0-9a-f]|7f)/i;

/**
 * Decides whether `input` is a safe place to send the user back to (OWASP Unvalidated
 * Redirects cheat sheet: allow-list, never a deny-list). Parses with WHATWG URL and compares
 * the normalized origin (scheme, host, port) exactly with the normalized allow-list.
 * Pure: no I/O, no configuration lookup.
 */
export function validateReturnUrl(input: unknown, policy: ReturnUrlPolicy): ReturnUrlVerdict {
  if (typeof input !== 'string' || input.length === 0) return deny('not a string');
  if (input.length > MAX_LENGTH) return deny('too long');
  if (!PRINTABLE_ASCII.test(input)) return deny('control, whitespace or non-ASCII character');
  if (input.includes('\\')) return deny('backslash');
  if (!ABSOLUTE.test(input)) return deny('not an absolute http(s) URL');
  if (ENCODED_TRICK.test(input)) return deny('encoded slash, backslash, percent or control character');
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    return deny('unparseable');
  }
  if (url.username !== '' || url.password !== '') return deny('userinfo');
  // Raw check too: an `@` before the first `/`, `?` or `#` is userinfo whatever the parser kept.
  if (/^[^:]+:\/\/[^/?#]*@/.test(input)) return deny('userinfo');
  if (url.protocol === 'http:') {
    if (!policy.allowHttpLocalhost || !LOOPBACK.has(url.hostname)) return deny('http outside local development');
  } else if (url.protocol !== 'https:') {
    return deny('scheme');
  }
  if (url.pathname.startsWith('//')) return deny('protocol-relative path');
  if (!normalizedOrigins(policy.allowedOrigins).has(url.origin)) return deny('origin not allowed');
  return { ok: true, url };
}

function deny(reason: string): ReturnUrlVerdict {
  return { ok: false, reason };
}

function normalizedOrigins(list: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (const entry of list) {
    try {
      const origin = new URL(entry).origin;
      if (origin !== 'null') out.add(origin);
    } catch {
      // A malformed allow-list entry allows nothing (config validation reports it at boot).
    }
  }
  return out;
}
