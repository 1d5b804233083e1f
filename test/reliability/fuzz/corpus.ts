/**
 * The hostile-input corpus: a deterministic PRNG (mulberry32) and generators for bodies, path
 * segments, query strings and headers. Same seed, same requests.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type Rand = () => number;
export const pick = <T>(rand: Rand, items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;

/** Strings an attacker tries: SQL, traversal, NUL, control and bidi characters, long and odd Unicode. */
export const HOSTILE_STRINGS: readonly string[] = [
  "' OR '1'='1", "1; DROP TABLE users; --", '" OR 1=1 --', "%' UNION SELECT password FROM account --", "admin'--", "1' AND sleep(5)--",
  '../../../../etc/passwd', '..\\..\\..\\windows\\win.ini', '..%2f..%2f..%2fetc%2fpasswd', '%2e%2e%2f%2e%2e%2f', '/etc/passwd%00.png',
  '\u0000', 'a\u0000b', '\r\nSet-Cookie: x=1', '\u202egnp.exe', '\ud800', '😀'.repeat(50), 'x'.repeat(5000), '', ' ', '-1', '0', '1e309', 'NaN',
  'true', 'null', 'undefined', '[object Object]', '{{7*7}}', '${7*7}', '<script>alert(1)</script>', 'javascript:alert(1)', 'http://169.254.169.254/',
  '__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty',
];

const WRONG_VALUES: readonly unknown[] = [
  null, true, false, 0, -1, 1.5, 1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, [], [1, 2], {}, { a: 1 }, '', 'x'.repeat(3000),
  [null], { __proto__: { admin: true } }, { $gt: '' }, { $where: '1' },
];

export const pickHostile = (rand: Rand) => pick(rand, HOSTILE_STRINGS);

/** encodeURIComponent, except that a lone surrogate is sent as its (invalid) UTF-8 bytes. */
export function enc(s: string): string {
  try {
    return encodeURIComponent(s);
  } catch {
    return '%ED%A0%80';
  }
}

/** A value of some type, usually the wrong one for a field. */
export function wrongValue(rand: Rand): unknown {
  return rand() < 0.5 ? pickHostile(rand) : pick(rand, WRONG_VALUES);
}

export interface Body {
  label: string;
  contentType?: string;
  body?: string | Uint8Array;
}

/** A JSON object whose fields come from `fields` (a route's schema) plus extras, with wrong values. */
function jsonObject(rand: Rand, fields: readonly string[]): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const f of fields) if (rand() < 0.8) o[f] = wrongValue(rand);
  if (rand() < 0.4) o[pickHostile(rand).slice(0, 40)] = wrongValue(rand);
  return o;
}

/** The body generators, each named (the label appears in failure messages). */
export function body(rand: Rand, fields: readonly string[]): Body {
  const json = 'application/json';
  const form = 'application/x-www-form-urlencoded';
  const kind = Math.floor(rand() * 14);
  switch (kind) {
    case 0: return { label: 'malformed json', contentType: json, body: pick(rand, ['{', '{"a":', '[1,2', '{"a":1,}', 'nul', "{'a':1}", '{"a":01}', '"\\x"', '{"a":"\\ud800"}', '\u0000', '{}}', '[]]', '{"a" 1}']) };
    case 1: return { label: 'invalid utf-8 in json', contentType: json, body: Buffer.concat([Buffer.from('{"'), Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xa0, 0xa1]), Buffer.from('":"'), Buffer.from([0xed, 0xa0, 0x80, 0xf8]), Buffer.from('"}')]) };
    case 2: return { label: 'deep array nesting', contentType: json, body: '['.repeat(20_000) + ']'.repeat(20_000) };
    case 3: return { label: 'deep object nesting', contentType: json, body: '{"a":'.repeat(5000) + '1' + '}'.repeat(5000) };
    case 4: return { label: 'prototype pollution keys', contentType: json, body: JSON.stringify({ ...jsonObject(rand, fields) }).replace(/^\{/, '{"__proto__":{"isAdmin":true,"role":"admin"},"constructor":{"prototype":{"polluted":1}},') };
    case 5: return { label: 'wrong types', contentType: json, body: JSON.stringify(jsonObject(rand, fields)) };
    case 6: return { label: 'json top-level non-object', contentType: json, body: pick(rand, ['[]', '1', '"x"', 'null', 'true', '[{"a":1}]']) };
    case 7: return { label: 'json under the wrong content type', contentType: pick(rand, ['text/plain', 'application/xml', 'text/html', 'application/octet-stream', 'multipart/form-data; boundary=x', 'application/json; charset=utf-7', 'application/x-www-form-urlencoded']), body: JSON.stringify(jsonObject(rand, fields)) };
    case 8: return { label: 'no content type', body: JSON.stringify(jsonObject(rand, fields)) };
    case 9: return { label: 'malformed form', contentType: form, body: pick(rand, ['a=%zz&b', '&&&==', '=', '%', 'a[b][c][d][e][f][g]=1', 'email[]=x&email[]=y', 'email[__proto__][x]=1&__proto__[admin]=1', 'constructor[prototype][x]=1', `${fields[0] ?? 'a'}=${enc(pickHostile(rand))}`]) };
    case 10: return { label: 'form with hostile fields', contentType: form, body: new URLSearchParams(Object.fromEntries(fields.map((f) => [f, pickHostile(rand)]))).toString() };
    case 11: return { label: 'oversized body', contentType: rand() < 0.5 ? json : form, body: rand() < 0.5 ? JSON.stringify({ a: 'x'.repeat(300_000) }) : `a=${'x'.repeat(300_000)}` };
    case 12: return { label: 'multipart garbage', contentType: 'multipart/form-data; boundary=----x', body: '------x\r\nContent-Disposition: form-data; name="a"\r\n\r\n' + pickHostile(rand) + '\r\n------x--' };
    default: return { label: 'empty body', contentType: json, body: '' };
  }
}

/** A hostile path segment, URL-encoded the way a client would send it (or deliberately not). */
export function segment(rand: Rand): string {
  const raw = pick(rand, [
    '%ff%fe', '%c3%28', '%00', '%2e%2e%2f%2e%2e%2f', '..%252f', '%E0%A4%A', '%', '%%', '%u0041', '%2F', '00000000-0000-0000-0000-000000000000', 'x'.repeat(3000),
  ]);
  return rand() < 0.6 ? raw : enc(pickHostile(rand));
}

export function query(rand: Rand, names: readonly string[]): string {
  const parts: string[] = [];
  for (const n of names) if (rand() < 0.7) parts.push(`${n}=${rand() < 0.3 ? segment(rand) : enc(pickHostile(rand))}`);
  if (rand() < 0.3) parts.push(pick(rand, ['__proto__[admin]=1', 'constructor[prototype][x]=1', 'a=1&a=2&a=3', '%ff=%fe', 'limit=1e99', 'limit=-5', 'cursor=%00', '=x', '&&&']));
  return parts.length ? `?${parts.join('&')}` : '';
}

/** Header sets: none, hostile values, oversized. */
export function headers(rand: Rand): { label: string; headers: Record<string, string> } {
  const kind = Math.floor(rand() * 12);
  if (kind === 0) return { label: 'huge header', headers: { 'x-filler': 'x'.repeat(20_000) } };
  if (kind === 1) return { label: 'many headers', headers: Object.fromEntries(Array.from({ length: 150 }, (_, i) => [`x-h${i}`, 'y'.repeat(100)])) };
  if (kind === 2 || kind === 3) return { label: 'hostile accept/origin', headers: { accept: pick(rand, ['text/html', '*/*', 'application/json', '\u0000', 'x'.repeat(500)].filter((v) => !v.includes('\u0000'))), origin: pick(rand, ['null', 'https://evil.example', 'file://']) } };
  if (kind === 4 || kind === 5) return { label: 'hostile request id', headers: { 'x-request-id': enc(pickHostile(rand)).slice(0, 1000) } };
  return { label: 'plain', headers: {} };
}
