// Which IP addresses an outbound request made on a tenant's behalf (a webhook) may reach: not this
// host, not the private network behind it, not the cloud metadata service. A net.BlockList of the
// special-purpose ranges (IANA IPv4/IPv6 Special-Purpose Address Registries), minus an explicit
// allow-list for development. `guardedLookup` applies it to what DNS answers, at connect time, so the
// socket goes to the very address that was checked and a name that re-resolves (DNS rebinding) cannot
// pass.
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { BlockList, isIP } from 'node:net';

/** [network, prefix] of every range refused unless allow-listed. */
const BLOCKED_IPV4: [string, number][] = [
  ['0.0.0.0', 8], // "this network", 0.0.0.0 unspecified (RFC 791, 1122)
  ['10.0.0.0', 8], // private (RFC 1918)
  ['100.64.0.0', 10], // shared address space, carrier-grade NAT (RFC 6598)
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, the cloud metadata service 169.254.169.254 (RFC 3927)
  ['172.16.0.0', 12], // private (RFC 1918)
  ['192.0.0.0', 24], // IETF protocol assignments (RFC 6890)
  ['192.0.2.0', 24], // documentation (RFC 5737)
  ['192.168.0.0', 16], // private (RFC 1918)
  ['198.18.0.0', 15], // benchmarking (RFC 2544)
  ['198.51.100.0', 24], // documentation
  ['203.0.113.0', 24], // documentation
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, and 255.255.255.255 broadcast
];
// IPv4-mapped addresses (::ffff:a.b.c.d) need no range of their own: BlockList checks the IPv4
// address inside against the IPv4 ranges (a ::ffff:0:0/96 rule would match every IPv4 address).
const BLOCKED_IPV6: [string, number][] = [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['64:ff9b:1::', 48], // local-use IPv4/IPv6 translation (RFC 8215)
  ['100::', 64], // discard-only (RFC 6666)
  ['2001:db8::', 32], // documentation
  ['fc00::', 7], // unique local (RFC 4193)
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local, deprecated (RFC 3879)
  ['ff00::', 8], // multicast
];

export interface AddressPolicy {
  /** Undefined when the address may be reached; otherwise why not (for the log and the caller). */
  refusal(address: string): string | undefined;
}

/** The policy: every special-purpose range refused, except those in `allowedCidrs` ("127.0.0.0/8", "::1/128"). */
export function createAddressPolicy(allowedCidrs: readonly string[] = []): AddressPolicy {
  const blocked = new BlockList();
  for (const [net, prefix] of BLOCKED_IPV4) blocked.addSubnet(net, prefix, 'ipv4');
  for (const [net, prefix] of BLOCKED_IPV6) blocked.addSubnet(net, prefix, 'ipv6');
  const allowed = new BlockList();
  for (const cidr of allowedCidrs) {
    const { net, prefix, family } = parseCidr(cidr)!;
    allowed.addSubnet(net, prefix, family);
  }
  return {
    refusal(raw) {
      const address = raw.split('%')[0]!; // an IPv6 zone id (fe80::1%eth0) is not part of the address
      const family = isIP(address) === 6 ? 'ipv6' : isIP(address) === 4 ? 'ipv4' : undefined;
      if (!family) return `not an IP address: ${address.slice(0, 100)}`;
      if (allowed.check(address, family)) return undefined;
      if (blocked.check(address, family)) return `address ${address} is in a private, loopback, link-local or reserved range`;
      return undefined;
    },
  };
}

/** `a.b.c.d/n` or `x::y/n`, or undefined when it is neither (config validation uses this). */
export function parseCidr(cidr: string): { net: string; prefix: number; family: 'ipv4' | 'ipv6' } | undefined {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(cidr.trim());
  if (!m) return undefined;
  const version = isIP(m[1]!);
  const prefix = Number(m[2]);
  if (version === 0 || prefix > (version === 4 ? 32 : 128)) return undefined;
  return { net: m[1]!, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

/** The host of a URL as an IP literal (brackets stripped), or undefined for a name. */
export function ipLiteralOf(url: URL): string | undefined {
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return isIP(host) ? host : undefined;
}

/** The error code guardedLookup fails a connection with when DNS answered a refused address. */
export const ADDRESS_REFUSED = 'EADDRNOTALLOWED';

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` for http(s).request / net.connect: resolves like dns.lookup, then refuses the connection
 * if ANY answer is refused by the policy (a resolver that mixes a public and a private address must
 * not get a second chance on retry), and hands the socket only the checked addresses.
 */
export function guardedLookup(policy: AddressPolicy) {
  return (hostname: string, options: LookupOptions, callback: LookupCallback): void => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, []);
      for (const a of addresses) {
        const why = policy.refusal(a.address);
        if (why) return callback(Object.assign(new Error(`${hostname}: ${why}`), { code: ADDRESS_REFUSED }), []);
      }
      if (options.all) return callback(null, addresses);
      const first = addresses[0];
      if (!first) return callback(Object.assign(new Error(`${hostname}: no address`), { code: 'ENOTFOUND' }), []);
      callback(null, first.address, first.family);
    });
  };
}

/**
 * A URL hostname that names this machine, as RFC 8252 §7.3 and §8.3 allow for http: (`localhost`,
 * 127.0.0.0/8, `[::1]`): where plain http may be used, for callbacks and development issuers.
 */
export function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127(\.\d{1,3}){3}$/.test(hostname);
}
