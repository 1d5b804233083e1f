import dns, { type LookupAddress, type LookupOptions } from 'node:dns';
import { BlockList, isIP } from 'node:net';
import type { Socket } from 'node:net';
import { createRequire } from 'node:module';
import type * as Undici from 'undici';
import type { buildConnector } from 'undici';

/**
 * Where the authorization server may connect when it fetches a URL a client gave it: a client ID
 * metadata document (its `client_id`), a `jwks_uri`. The URL comes from whoever sends an
 * authorization request, so it must not reach into our network (SSRF): every address a host
 * resolves to must be public. Checked before connecting (the DNS answer; an IP literal host) and
 * again on the connected socket, so neither a literal nor a second DNS answer slips through.
 * Ranges: RFC 6890 special-purpose registries (IANA), including cloud metadata services
 * (169.254.169.254, fd00:ec2::254).
 */
const SPECIAL_USE_V4: [string, number][] = [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, cloud metadata
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.88.99.0', 24], // 6to4 relay anycast
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation
  ['203.0.113.0', 24], // documentation
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
];
const SPECIAL_USE_V6: [string, number][] = [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['64:ff9b::', 96], // NAT64
  ['64:ff9b:1::', 48], // local-use NAT64
  ['100::', 64], // discard
  ['2001::', 23], // IETF protocol assignments (Teredo, ORCHID…)
  ['2001:db8::', 32], // documentation
  ['2002::', 16], // 6to4
  ['3fff::', 20], // documentation
  ['5f00::', 16], // segment routing
  ['fc00::', 7], // unique local (fd00:ec2::254, the EC2 metadata service, is in here)
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated)
  ['ff00::', 8], // multicast
];

const special = new BlockList();
for (const [net, prefix] of SPECIAL_USE_V4) special.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of SPECIAL_USE_V6) special.addSubnet(net, prefix, 'ipv6');
const loopback = new BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');

export interface OutboundPolicy {
  /** Tests only (CLIENT_METADATA_ALLOW_LOOPBACK, refused in production): loopback is allowed; every other special range stays refused. */
  allowLoopback: boolean;
}

/** Whether the server may connect to `address` (an IP literal; anything else is refused). */
export function isAllowedAddress(address: string, policy: OutboundPolicy): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  // IPv4-mapped IPv6 (::ffff:a.b.c.d): never a real answer for a public host; refused whole.
  // (BlockList applies the IPv4 ranges to mapped addresses too, which covers the long forms.)
  if (family === 6 && /^::ffff:/i.test(address)) return false;
  const type = family === 4 ? 'ipv4' : 'ipv6';
  if (policy.allowLoopback && loopback.check(address, type)) return true;
  return !special.check(address, type);
}

export class BlockedAddressError extends Error {
  readonly code = 'EBLOCKEDADDRESS';
  constructor(host: string) {
    super(`${host} resolves to a non-public address`);
  }
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;
type Resolver = (hostname: string, options: LookupOptions & { all: true }, callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => void;

/**
 * A `lookup` for net/tls.connect that refuses a host when any of its addresses is not allowed
 * (all of them, not only the one used: a host that also resolves inward is not a public host).
 */
export function guardedLookup(policy: OutboundPolicy, resolve: Resolver = dns.lookup as unknown as Resolver) {
  return (hostname: string, options: LookupOptions, callback: LookupCallback): void => {
    resolve(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, []);
      if (addresses.length === 0 || addresses.some((a) => !isAllowedAddress(a.address, policy))) return callback(new BlockedAddressError(hostname), []);
      if (options.all) return callback(null, addresses);
      callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  };
}

export type OutboundFetch = (url: string | URL, init?: RequestInit) => Promise<Response>;

/**
 * fetch for oidc-provider's `fetch` setting: undici with the guarded connector. Redirects,
 * timeouts and body size are oidc-provider's (redirect: manual, 2.5 s, fetchResponseBodyLimits);
 * its own dispatcher is replaced by this one.
 */
export function createOutboundFetch(policy: OutboundPolicy, opts: { resolve?: Resolver; connectTimeoutMs?: number } = {}): OutboundFetch {
  let guarded: { agent: Undici.Agent; fetch: typeof Undici.fetch } | undefined;
  // undici (some hundred modules) loads at the first outbound request, not at every start.
  const load = () => {
    const { Agent, buildConnector: build, fetch } = createRequire(import.meta.url)('undici') as typeof Undici;
    const base = build({ lookup: guardedLookup(policy, opts.resolve), timeout: opts.connectTimeoutMs ?? 2500 } as buildConnector.BuildOptions);
    const connect: buildConnector.connector = (options, callback) => {
      const host = options.hostname.replace(/^\[(.*)\]$/, '$1');
      if (isIP(host) && !isAllowedAddress(host, policy)) return callback(new BlockedAddressError(host), null);
      return base(options, (err, socket) => {
        const remote = (socket as Socket | null)?.remoteAddress;
        if (!err && socket && (!remote || !isAllowedAddress(remote, policy))) {
          socket.destroy();
          return callback(new BlockedAddressError(host), null);
        }
        if (err) return callback(err, null);
        return callback(null, socket!);
      });
    };
    return { agent: new Agent({ connect, keepAliveTimeout: 1000, connections: 16 }), fetch };
  };
  return (url, init = {}) => {
    guarded ??= load();
    const { dispatcher: _theirs, ...rest } = init as RequestInit & { dispatcher?: unknown };
    return guarded.fetch(url, { ...(rest as Parameters<typeof Undici.fetch>[1]), dispatcher: guarded.agent }) as unknown as Promise<Response>;
  };
}
