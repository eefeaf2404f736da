import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';

/**
 * The IX-F Member Export (github.com/euro-ix/json-schemas): the file every IXP publishes with
 * its members, their connections and, per VLAN, peering addresses and router MAC addresses.
 * Versions 0.6, 0.7 and 1.0 are read (they agree on what is used here: member_list[].asnum,
 * .name, .connection_list[].vlan_list[].ipv4/ipv6.{address, mac_addresses}). Anything that is
 * not such a file is refused with a message naming the file and what is wrong.
 */
export interface Member {
  asn: number;
  name: string;
  /** Router MAC addresses on the fabric, lower case "aa:bb:cc:dd:ee:ff". */
  macs: string[];
  /** Peering LAN addresses. */
  addresses: string[];
}

export interface MemberExport {
  version: string;
  ixpName: string;
  members: Member[];
}

export class MemberExportError extends Error {
  readonly userFacing = true;
  constructor(message: string) {
    super(message);
    this.name = 'MemberExportError';
  }
}

const SUPPORTED = ['0.6', '0.7', '1.0'];
type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** "AA-BB-CC-DD-EE-FF", "aabb.ccdd.eeff", "aa:bb:cc:dd:ee:ff" → "aa:bb:cc:dd:ee:ff"; null if not a MAC. */
export function normalizeMac(text: string): string | null {
  const hex = text.toLowerCase().replace(/[^0-9a-f]/g, '');
  if (hex.length !== 12 || !/^[0-9a-f:.\-\s]+$/i.test(text)) return null;
  return hex.match(/../g)!.join(':');
}

export function parseMemberExport(text: string, name = 'member export'): MemberExport {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new MemberExportError(`${name}: not JSON (${(e as Error).message})`);
  }
  if (!isObj(doc)) throw new MemberExportError(`${name}: not an IX-F member export (the top level is not an object)`);
  const version = typeof doc.version === 'string' ? doc.version : null;
  if (!version) throw new MemberExportError(`${name}: not an IX-F member export (no "version")`);
  if (!SUPPORTED.includes(version)) throw new MemberExportError(`${name}: IX-F member export version ${version} is not one of ${SUPPORTED.join(', ')}`);
  if (!Array.isArray(doc.member_list)) throw new MemberExportError(`${name}: no "member_list" array`);
  const ixps = Array.isArray(doc.ixp_list) ? doc.ixp_list.filter(isObj) : [];
  const members: Member[] = [];
  doc.member_list.forEach((m: unknown, i: number) => {
    if (!isObj(m)) throw new MemberExportError(`${name}: member_list[${i}] is not an object`);
    const asn = m.asnum;
    if (typeof asn !== 'number' || !Number.isInteger(asn) || asn <= 0 || asn > 4294967295)
      throw new MemberExportError(`${name}: member_list[${i}].asnum is not an AS number (${JSON.stringify(asn)})`);
    const macs = new Set<string>();
    const addresses = new Set<string>();
    const conns = Array.isArray(m.connection_list) ? m.connection_list : [];
    for (const c of conns) {
      if (!isObj(c)) continue;
      for (const v of Array.isArray(c.vlan_list) ? c.vlan_list : []) {
        if (!isObj(v)) continue;
        for (const fam of ['ipv4', 'ipv6'] as const) {
          const f = v[fam];
          if (!isObj(f)) continue;
          if (typeof f.address === 'string' && isIP(f.address)) addresses.add(f.address);
          for (const mac of Array.isArray(f.mac_addresses) ? f.mac_addresses : []) {
            const n = typeof mac === 'string' ? normalizeMac(mac) : null;
            if (!n) throw new MemberExportError(`${name}: member AS${asn}: ${JSON.stringify(mac)} is not a MAC address`);
            macs.add(n);
          }
        }
      }
    }
    members.push({ asn, name: typeof m.name === 'string' ? m.name : `AS${asn}`, macs: [...macs], addresses: [...addresses] });
  });
  const ixpName = ixps.length && typeof ixps[0]!.shortname === 'string' ? ixps[0]!.shortname : 'IXP';
  return { version, ixpName, members };
}

export function loadMemberExport(path: string): MemberExport {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new MemberExportError(`member export ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  return parseMemberExport(text, `member export ${path}`);
}

/** An IX-F member export for the given members (the simulator publishes one). */
export function writeMemberExport(ixpName: string, members: Member[], vlanId = 10): object {
  return {
    version: '1.0',
    timestamp: new Date(0).toISOString(),
    ixp_list: [{ ixp_id: 1, shortname: ixpName, vlan: [{ id: vlanId, name: 'peering' }], switch: [] }],
    member_list: members.map((m) => ({
      asnum: m.asn,
      member_type: 'peering',
      name: m.name,
      connection_list: [
        {
          ixp_id: 1,
          state: 'active',
          if_list: [{ switch_id: 1, if_speed: 100000 }],
          vlan_list: [
            {
              vlan_id: vlanId,
              ipv4: { address: m.addresses.find((a) => isIP(a) === 4), mac_addresses: m.macs },
              ...(m.addresses.some((a) => isIP(a) === 6) ? { ipv6: { address: m.addresses.find((a) => isIP(a) === 6), mac_addresses: m.macs } } : {}),
            },
          ],
        },
      ],
    })),
  };
}
