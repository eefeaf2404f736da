import { F } from '@haystack/flow-core';
import type { Member, MemberExport } from './ixf.js';
import type { RouteTable } from './routes.js';

/** How a host was tied to a member network, in the order tried. */
export type AttributionVia = 'mac' | 'as' | 'prefix';

export interface Attribution {
  member: Member;
  via: AttributionVia;
}

/**
 * Which member network a host sits behind, from one of its flows on the fabric: the member
 * router's MAC address on the host's side of the frame (a sampled header's source MAC is the
 * router that sent the packet into the fabric: the source host's member; the destination MAC
 * the router it leaves by), looked up in the member export; else the AS number the flow carries
 * for that end (sFlow extended gateway, IPFIX bgpSource/DestinationAsNumber) if it is a member;
 * else the longest-prefix route table. Null: unattributed (the caller counts it).
 */
export class Attributor {
  private readonly byMac = new Map<string, Member>();
  private readonly byAsn = new Map<number, Member>();
  /** Counts per way of attribution, and what could not be attributed. */
  readonly counts = { mac: 0, as: 0, prefix: 0, unattributed: 0 };

  constructor(
    readonly members: MemberExport,
    private readonly routes: RouteTable | null = null,
  ) {
    for (const m of members.members) {
      this.byAsn.set(m.asn, m);
      for (const mac of m.macs) this.byMac.set(mac, m);
    }
  }

  /** A member by AS number (the report names them). */
  member(asn: number): Member | undefined {
    return this.byAsn.get(asn);
  }

  /** Attribute the host at the record's source (`unitIsSrc`) or destination end. */
  attribute(buf: Uint8Array, dv: DataView, o: number, unitIsSrc: boolean): Attribution | null {
    const macAt = o + (unitIsSrc ? F.srcMac : F.dstMac);
    let any = 0;
    for (let i = 0; i < 6; i++) any |= buf[macAt + i]!;
    if (any !== 0) {
      let s = '';
      for (let i = 0; i < 6; i++) s += (i ? ':' : '') + buf[macAt + i]!.toString(16).padStart(2, '0');
      const m = this.byMac.get(s);
      if (m) {
        this.counts.mac++;
        return { member: m, via: 'mac' };
      }
    }
    const asn = dv.getUint32(o + (unitIsSrc ? F.srcAs : F.dstAs), true);
    if (asn !== 0) {
      const m = this.byAsn.get(asn);
      if (m) {
        this.counts.as++;
        return { member: m, via: 'as' };
      }
    }
    if (this.routes) {
      const r = this.routes.lookup(buf, o + (unitIsSrc ? F.src : F.dst));
      const m = r ? this.byAsn.get(r) : undefined;
      if (m) {
        this.counts.prefix++;
        return { member: m, via: 'prefix' };
      }
    }
    this.counts.unattributed++;
    return null;
  }
}
