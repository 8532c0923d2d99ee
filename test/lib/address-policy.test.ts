// The address policy of outbound webhook requests (src/lib/address-policy.ts): each special-purpose
// range refused, public addresses allowed, the allow-list, and the lookup that checks what DNS answers.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createAddressPolicy, guardedLookup, ADDRESS_REFUSED } from '../../src/lib/address-policy.js';

const REFUSED: [string, string][] = [
  ['unspecified IPv4', '0.0.0.0'],
  ['"this network"', '0.1.2.3'],
  ['private 10/8', '10.20.30.40'],
  ['CGNAT 100.64/10', '100.64.0.1'],
  ['CGNAT 100.64/10, top', '100.127.255.254'],
  ['loopback', '127.0.0.1'],
  ['loopback, anywhere in 127/8', '127.255.0.9'],
  ['link-local, cloud metadata', '169.254.169.254'],
  ['private 172.16/12', '172.16.0.1'],
  ['private 172.16/12, top', '172.31.255.255'],
  ['IETF protocol assignments', '192.0.0.8'],
  ['documentation', '192.0.2.1'],
  ['private 192.168/16', '192.168.1.1'],
  ['benchmarking', '198.18.0.1'],
  ['multicast', '224.0.0.1'],
  ['multicast, SSDP', '239.255.255.250'],
  ['reserved 240/4', '240.0.0.1'],
  ['broadcast', '255.255.255.255'],
  ['unspecified IPv6', '::'],
  ['IPv6 loopback', '::1'],
  ['IPv4-mapped loopback', '::ffff:127.0.0.1'],
  ['IPv4-mapped metadata (hex form)', '::ffff:a9fe:a9fe'],
  ['IPv4-mapped private', '::ffff:10.0.0.1'],
  ['unique local fc00::/7', 'fc00::1'],
  ['unique local fd00::/8', 'fd12:3456:789a::1'],
  ['IPv6 link-local', 'fe80::1'],
  ['IPv6 link-local with a zone', 'fe80::1%eth0'],
  ['site-local (deprecated)', 'fec0::1'],
  ['IPv6 multicast', 'ff02::1'],
  ['IPv6 documentation', '2001:db8::1'],
  ['discard-only', '100::1'],
  ['local-use NAT64', '64:ff9b:1::a00:1'],
];
const ALLOWED = [
  '8.8.8.8',
  '1.1.1.1',
  '93.184.215.14',
  '172.32.0.1',
  '172.15.255.255',
  '100.128.0.1',
  '169.253.255.255',
  '2606:4700::1111',
  '2a00:1450:4001::200e',
  '::ffff:8.8.8.8',
];

describe('createAddressPolicy', () => {
  const policy = createAddressPolicy();
  for (const [name, address] of REFUSED) {
    it(`refuses ${name} (${address})`, () => {
      expect(policy.refusal(address)).toMatch(/private, loopback, link-local or reserved range/);
    });
  }
  it('allows public addresses', () => {
    for (const a of ALLOWED) expect(policy.refusal(a), a).toBeUndefined();
  });
  it('refuses what is not an address', () => {
    expect(policy.refusal('localhost')).toMatch(/not an IP address/);
  });
  it('the allow-list opens exactly its ranges', () => {
    const dev = createAddressPolicy(['127.0.0.0/8', '::1/128', '192.168.10.0/24']);
    for (const a of ['127.0.0.1', '::1', '::ffff:127.0.0.1', '192.168.10.7']) expect(dev.refusal(a), a).toBeUndefined();
    for (const a of ['10.0.0.1', '169.254.169.254', '192.168.11.1', 'fe80::1']) expect(dev.refusal(a), a).toBeDefined();
  });
});

describe('guardedLookup (the real resolver)', () => {
  const resolve = (lookup: ReturnType<typeof guardedLookup>, host: string, all: boolean) =>
    new Promise<{ err: NodeJS.ErrnoException | null; address: unknown }>((r) =>
      lookup(host, { all }, (err, address) => r({ err, address })),
    );

  it('a name that resolves to loopback is refused, both as one address and as a list (happy eyeballs)', async () => {
    const lookup = guardedLookup(createAddressPolicy());
    for (const all of [false, true]) {
      const { err } = await resolve(lookup, 'localhost', all);
      expect(err?.code).toBe(ADDRESS_REFUSED);
      expect(err?.message).toMatch(/^localhost: address (127\.0\.0\.1|::1) is in a private/);
    }
  });

  it('allow-listed, it resolves to the checked addresses', async () => {
    const lookup = guardedLookup(createAddressPolicy(['127.0.0.0/8', '::1/128']));
    const one = await resolve(lookup, 'localhost', false);
    expect(one.err).toBeNull();
    expect(['127.0.0.1', '::1']).toContain(one.address);
    const list = await resolve(lookup, 'localhost', true);
    expect(list.err).toBeNull();
    expect((list.address as { address: string }[]).every((a) => ['127.0.0.1', '::1'].includes(a.address))).toBe(true);
  });
});

describe('KEYMASTER_WEBHOOK_ALLOWED_CIDRS', () => {
  it('defaults to none, takes a comma-separated list, refuses what is not a CIDR', () => {
    expect(loadConfig({}).webhookAllowedCidrs).toEqual([]);
    expect(loadConfig({ KEYMASTER_WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8, ::1/128' }).webhookAllowedCidrs).toEqual(['127.0.0.0/8', '::1/128']);
    for (const bad of ['127.0.0.1', '10.0.0.0/33', '::1/129', 'localhost/8', '*']) {
      expect(() => loadConfig({ KEYMASTER_WEBHOOK_ALLOWED_CIDRS: bad }), bad).toThrow(
        /KEYMASTER_WEBHOOK_ALLOWED_CIDRS: must be a comma-separated list of CIDRs/,
      );
    }
  });
});
