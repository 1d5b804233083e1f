import { parse } from 'bowser';

const UNKNOWN = 'Unknown device';

/**
 * What a person recognises of a session's user agent: "Chrome 140 on Linux", "Safari 17 on
 * iOS 17.0". Bowser reads the string; anything it cannot name (curl, scripts, an empty header)
 * is an unknown device rather than the raw text.
 */
export function describeDevice(userAgent: string): string {
  if (!userAgent.trim()) return UNKNOWN;
  let result: ReturnType<typeof parse>;
  try {
    result = parse(userAgent.slice(0, 512));
  } catch {
    return UNKNOWN;
  }
  const major = result.browser.version?.split('.')[0];
  const browser = result.browser.name ? `${result.browser.name}${major ? ` ${major}` : ''}` : '';
  // Windows reports its NT kernel version ("NT 10.0"); people know it by name ("10").
  const osVersion = result.os.name === 'Windows' ? (result.os.versionName ?? result.os.version) : result.os.version;
  const os = result.os.name ? `${result.os.name}${osVersion ? ` ${osVersion}` : ''}` : '';
  if (browser && os) return `${browser} on ${os}`;
  return browser || os || UNKNOWN;
}
