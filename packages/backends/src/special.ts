import { parseAddress, PrefixSet } from '@haystack/common';

/**
 * Special-purpose address space (RFC 6890 and the IANA registries: private, shared, loopback,
 * link-local, documentation, benchmarking, multicast, reserved). No dataset may place such an
 * address in a network, country or cloud: published lists that include them (one provider's
 * list carries the documentation prefixes) are wrong there, and the address stays unknown.
 */
const SPECIAL = new PrefixSet([
  '0.0.0.0/8',
  '10.0.0.0/8',
  '100.64.0.0/10',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '172.16.0.0/12',
  '192.0.0.0/24',
  '192.0.2.0/24',
  '192.168.0.0/16',
  '198.18.0.0/15',
  '198.51.100.0/24',
  '203.0.113.0/24',
  '224.0.0.0/3',
  '::/128',
  '::1/128',
  '64:ff9b:1::/48',
  '100::/64',
  '2001:db8::/32',
  '3fff::/20',
  'fc00::/7',
  'fe80::/10',
  'ff00::/8',
]);

export function isSpecialAddress(address: string): boolean {
  return SPECIAL.contains(parseAddress(address));
}

/** A prefix that lies inside special-purpose space (its network address is special). */
export function isSpecialPrefix(prefix: string): boolean {
  return isSpecialAddress(prefix.split('/')[0]!);
}
