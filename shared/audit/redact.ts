import { createHmac } from 'node:crypto';
import { isIP } from 'node:net';
import { AUDIT_EVENTS, type AuditEventName } from './catalog.js';

export type AuditValue = string | number | boolean | null;
export type AuditProperties = Record<string, AuditValue>;

export const MAX_STRING = 200;

// Deliberately loose: a false positive costs a hash, a false negative leaks an address.
const EMAIL = /[^\s@<>()[\]",;:]+@[^\s@<>()[\]",;:]+\.[a-z]{2,}/gi;
// 13–19 digits, optionally grouped by spaces or dashes (ISO/IEC 7812 PAN lengths).
const CARD = /(?:\d[ -]?){12,18}\d/;

/** Keyed HMAC-SHA256 of a normalised address: linkable across events, not reversible. */
export function emailHash(email: string, key: string): string {
  return createHmac('sha256', key).update(email.trim().toLowerCase()).digest('hex');
}

/** Replaces every email-shaped substring by its keyed hash and truncates to `max`. */
export function scrubString(value: string, key: string, max = MAX_STRING): string {
  const scrubbed = value.replace(EMAIL, (m) => `emailhash:${emailHash(m, key)}`);
  return scrubbed.length > max ? scrubbed.slice(0, max) : scrubbed;
}

export function looksLikeCardNumber(value: string): boolean {
  const match = CARD.exec(value);
  return match !== null && luhn(match[0].replace(/[ -]/g, ''));
}

function luhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  return sum % 10 === 0;
}

export interface Redacted {
  properties: AuditProperties;
  /** Names of properties removed: not allow-listed, not a primitive, or card-shaped. */
  dropped: string[];
}

/**
 * The one redaction step for every sink. Keeps a property only if its name is allow-listed
 * for `event` in the catalog and its value is a primitive; strings are scrubbed of email
 * addresses and truncated; anything that looks like a card number is dropped outright.
 */
export function redactProperties(event: AuditEventName, input: Record<string, unknown> | undefined, key: string): Redacted {
  const allowed: readonly string[] = AUDIT_EVENTS[event].properties;
  const properties: AuditProperties = {};
  const dropped: string[] = [];
  for (const [name, value] of Object.entries(input ?? {})) {
    const kept = allowed.includes(name) ? primitive(value, key) : undefined;
    if (kept === undefined) dropped.push(name);
    else properties[name] = kept;
  }
  return { properties, dropped };
}

function primitive(value: unknown, key: string): AuditValue | undefined {
  if (value === null || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value !== 'string') return undefined;
  return looksLikeCardNumber(value) ? undefined : scrubString(value, key);
}

/** IPv4 → its /24 ("203.0.113.0/24"); IPv6 → its /48 ("2001:db8:85a3::/48"); else undefined. */
export function truncateIp(ip: string | undefined): string | undefined {
  if (!ip) return undefined;
  const bare = ip.trim().replace(/^\[|\]$/g, '').split('%')[0]!;
  if (isIP(bare) === 4) return v4Prefix(bare);
  if (isIP(bare) !== 6) return undefined;
  const groups = expandV6(bare);
  // RFC 4291 §2.5.5.2: an IPv4-mapped address is the IPv4 client behind a dual-stack socket.
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return v4Prefix([groups[6]! >> 8, groups[6]! & 255, groups[7]! >> 8, groups[7]! & 255].join('.'));
  }
  return `${groups.slice(0, 3).map((g) => g.toString(16)).join(':')}::/48`;
}

function v4Prefix(ip: string): string {
  const [a, b, c] = ip.split('.');
  return `${a}.${b}.${c}.0/24`;
}

/** Eight 16-bit groups of a valid IPv6 address (validated by the caller with isIP). */
function expandV6(ip: string): number[] {
  let s = ip;
  const tail = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (tail) {
    const p = tail[2]!.split('.').map(Number);
    s = `${tail[1]}${((p[0]! << 8) | p[1]!).toString(16)}:${((p[2]! << 8) | p[3]!).toString(16)}`;
  }
  const [head = '', rest] = s.split('::');
  const h = head ? head.split(':') : [];
  const t = rest ? rest.split(':') : [];
  const fill = rest === undefined ? [] : Array<string>(8 - h.length - t.length).fill('0');
  return [...h, ...fill, ...t].map((g) => parseInt(g, 16));
}
