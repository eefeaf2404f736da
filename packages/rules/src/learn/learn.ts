// The method's first step, from labelled captures: which endpoints each device contacted (names
// from its DNS answers, TLS server names and HTTP Host headers), how it classifies against the
// dictionary, generic list and a first/support/third-party list, and what rules/ entries it suggests.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { readFrames } from '@haystack/pcap';
import type { Dictionary, DomainDef } from '../load.js';
import { atOrBelow, PatternIndex, RegisteredDomains } from '../names.js';
import { dnsAnswers, httpHost, tlsServerName } from './names.js';
import { isLocal, parseEthernet } from './packet.js';

export interface DeviceLabel {
  mac: string;
  /** The class (usually a product id of rules/classes.yaml) the device's domains are proposed for. */
  label: string;
}

export type Role = 'primary' | 'support' | 'generic' | 'review';

export interface NameReport {
  name: string;
  registered: string;
  /** Observed as transport/port, e.g. "udp/80". */
  ports: string[];
  addresses: string[];
  packets: number;
  bytes: number;
  /** Mean over the device's capture time; "active" is the busiest minute scaled to an hour. */
  packetsPerHour: { mean: number; active: number };
  via: ('dns' | 'sni' | 'http')[];
  captures: string[];
  role: Role;
  why: string;
  /** The dictionary entry that matches, with ports it lists that the device did not use. */
  dictionary: { key: string; usedBy: string[]; ports: string[]; unmatchedPorts: string[] } | null;
}

export interface DeviceReport {
  label: string;
  mac: string;
  captures: string[];
  seconds: number;
  packets: number;
  names: NameReport[];
  /** Remote endpoints no name was seen for. */
  unnamed: { address: string; port: string; packets: number }[];
}

/** A first/support/third-party list: registered domain → vendor → 1 first, 2 support, 3 third (iot-endpoints format). */
export type PartyList = Map<string, Map<string, number>>;

export function readPartyList(path: string): PartyList {
  const out: PartyList = new Map();
  const lines = readFileSync(path, 'utf8').split('\n');
  const head = lines[0]!.split(',');
  const vi = head.indexOf('super_vendor');
  const di = head.indexOf('domain');
  const pi = head.indexOf('party_labels');
  if (vi < 0 || di < 0 || pi < 0) throw new Error(`${path}: expected columns super_vendor, domain, party_labels`);
  for (const l of lines.slice(1)) {
    const c = l.split(',');
    const party = Number(c[pi]);
    if (!c[di] || !(party >= 1 && party <= 3)) continue;
    let m = out.get(c[di]!.toLowerCase());
    if (!m) out.set(c[di]!.toLowerCase(), (m = new Map()));
    m.set(c[vi]!, Math.min(m.get(c[vi]!) ?? 3, party));
  }
  return out;
}

interface Acc {
  packets: number;
  bytes: number;
  ports: Set<string>;
  addresses: Set<string>;
  via: Set<'dns' | 'sni' | 'http'>;
  captures: Set<string>;
  minutes: Map<number, number>;
}

export async function learnFromCaptures(files: string[], labels: DeviceLabel[], dict: Dictionary, party: PartyList | null = null): Promise<DeviceReport[]> {
  const byMac = new Map(labels.map((l) => [l.mac.toLowerCase(), l]));
  const devices = new Map<string, { captures: Set<string>; spans: Map<string, [number, number]>; packets: number; names: Map<string, Acc>; unnamed: Map<string, number> }>();
  for (const file of files) {
    // Per capture: which name each address answered for (a device may re-resolve in the next capture).
    const nameOf = new Map<string, Map<string, string>>();
    const cname = new Map<string, Map<string, string>>();
    for await (const f of readFrames(file)) {
      const p = parseEthernet(f.data);
      if (!p) continue;
      const out = byMac.has(p.srcMac);
      const mac = out ? p.srcMac : p.dstMac;
      if (!byMac.has(mac)) continue;
      let d = devices.get(mac);
      if (!d) devices.set(mac, (d = { captures: new Set(), spans: new Map(), packets: 0, names: new Map(), unnamed: new Map() }));
      d.captures.add(basename(file));
      const span = d.spans.get(file);
      if (!span) d.spans.set(file, [f.tsMs, f.tsMs]);
      else span[1] = Math.max(span[1], f.tsMs);
      d.packets++;
      if (!nameOf.has(mac)) nameOf.set(mac, new Map());
      if (!cname.has(mac)) cname.set(mac, new Map());
      const names = nameOf.get(mac)!;
      const cn = cname.get(mac)!;
      // DNS answers to the device: the name it asked for, through its CNAME chain.
      if (!out && p.proto === 17 && p.srcPort === 53) {
        const ans = dnsAnswers(p.payload);
        for (const a of ans) if (a.type === 'CNAME') cn.set(a.data, cn.get(a.name) ?? a.name);
        for (const a of ans) if (a.type !== 'CNAME') names.set(a.data, cn.get(a.name) ?? a.name);
        continue;
      }
      const remote = out ? p.dst : p.src;
      const remotePort = out ? p.dstPort : p.srcPort;
      if (isLocal(remote) || remotePort === 53) continue;
      const transport = p.proto === 6 ? 'tcp' : 'udp';
      let name = names.get(remote) ?? null;
      let via: 'dns' | 'sni' | 'http' = 'dns';
      if (out && p.proto === 6 && p.payload.length) {
        const sni = tlsServerName(p.payload) ?? null;
        const host = sni ? null : httpHost(p.payload);
        if (!name && (sni || host)) {
          name = (sni ?? host)!;
          via = sni ? 'sni' : 'http';
          names.set(remote, name);
        }
      }
      if (!name) {
        const k = `${remote} ${transport}/${remotePort}`;
        d.unnamed.set(k, (d.unnamed.get(k) ?? 0) + 1);
        continue;
      }
      let acc = d.names.get(name);
      if (!acc) d.names.set(name, (acc = { packets: 0, bytes: 0, ports: new Set(), addresses: new Set(), via: new Set(), captures: new Set(), minutes: new Map() }));
      acc.packets++;
      acc.bytes += p.ipBytes;
      acc.ports.add(`${transport}/${remotePort}`);
      acc.addresses.add(remote);
      acc.via.add(via);
      acc.captures.add(basename(file));
      const minute = Math.floor(f.tsMs / 60_000);
      acc.minutes.set(minute, (acc.minutes.get(minute) ?? 0) + 1);
    }
  }

  const reg = new RegisteredDomains();
  const index = new PatternIndex<DomainDef>();
  for (const def of dict.domains) for (const pat of def.patterns) index.add(pat, def);
  const reports: DeviceReport[] = [];
  for (const [mac, d] of devices) {
    const label = byMac.get(mac)!.label;
    // Time observed: the captures' own spans (they may be days apart).
    const seconds = [...d.spans.values()].reduce((s, [a, b]) => s + (b - a) / 1000, 0);
    const hours = Math.max(seconds / 3600, 1 / 60);
    const names: NameReport[] = [];
    for (const [name, a] of d.names) {
      const registered = reg.of(name);
      const def = index.match(name)?.[0] ?? null;
      const ports = [...a.ports].sort();
      const listed = def ? def.ports.map((x) => `${x.transport}/${x.port}`) : [];
      const matches = (obs: string) => {
        const [t, n] = obs.split('/');
        return def!.ports.some((x) => x.port === Number(n) && (x.transport === 'any' || x.transport === t));
      };
      const { role, why } = classifyName(name, registered, label, dict, party);
      names.push({
        name,
        registered,
        ports,
        addresses: [...a.addresses].sort(),
        packets: a.packets,
        bytes: a.bytes,
        packetsPerHour: { mean: Math.round(a.packets / hours), active: Math.max(...a.minutes.values()) * 60 },
        via: [...a.via].sort(),
        captures: [...a.captures].sort(),
        role,
        why,
        dictionary: def ? { key: def.key, usedBy: def.usedBy, ports: listed, unmatchedPorts: ports.filter((x) => !matches(x)) } : null,
      });
    }
    names.sort((x, y) => y.packets - x.packets || x.name.localeCompare(y.name));
    const unnamed = [...d.unnamed].map(([k, packets]) => ({ address: k.split(' ')[0]!, port: k.split(' ')[1]!, packets })).sort((x, y) => y.packets - x.packets);
    reports.push({ label, mac, captures: [...d.captures].sort(), seconds: Math.round(seconds), packets: d.packets, names, unnamed });
  }
  return reports.sort((x, y) => x.label.localeCompare(y.label));
}

function classifyName(name: string, registered: string, label: string, dict: Dictionary, party: PartyList | null): { role: Role; why: string } {
  const gen = dict.generic.find((g) => (g.kind === 'name' ? g.value === name : atOrBelow(name, g.value)));
  if (gen) return { role: 'generic', why: `generic.yaml ${gen.kind} ${gen.value}: ${gen.why}` };
  const parties = party?.get(registered);
  if (parties) {
    const first = [...parties].filter(([, p]) => p === 1).map(([v]) => v);
    const support = [...parties].filter(([, p]) => p === 2).length;
    const third = [...parties].filter(([, p]) => p === 3).length;
    if (first.length && first.length <= 3) return { role: 'primary', why: `${registered} first party of ${first.join(', ')} (party list)` };
    if (support + third >= 10) return { role: 'generic', why: `${registered} support or third party of ${support + third} vendors (party list): shared` };
    if (support) return { role: 'support', why: `${registered} support party of ${support} vendor(s) (party list)` };
    if (third) return { role: 'generic', why: `${registered} only ever third party (party list)` };
  }
  return { role: 'review', why: `${registered} is in no list: review whether it is ${label}'s maker's own` };
}

/**
 * rules/ entries for what the captures show and the dictionary lacks, as a YAML diff to review:
 * `+` entries to add, `~` dictionary entries whose ports or transports the device did not use,
 * `=` entries confirmed. Generic names are left out (listed as comments).
 */
export function proposeRules(reports: DeviceReport[], sourceId: string): string {
  const out: string[] = [`# proposed by haystack rules learn (source: ${sourceId}); review before merging into rules/domains/`, 'domains:'];
  for (const r of reports) {
    out.push(`  # ${r.label} (${r.mac}): ${r.captures.length} capture(s), ${r.packets} packets over ${r.seconds} s`);
    for (const n of r.names) {
      const evidence = `${n.packets} packets (${n.packetsPerHour.mean}/h mean, ${n.packetsPerHour.active}/h busiest minute), named by ${n.via.join('+')}, in ${n.captures.join(' ')}`;
      if (n.dictionary) {
        if (n.dictionary.unmatchedPorts.length)
          out.push(
            `  # ~ ${n.dictionary.key} (used_by ${n.dictionary.usedBy.join(', ')}): the dictionary lists ${n.dictionary.ports.join(', ')}; ${r.label} used ${n.dictionary.unmatchedPorts.join(', ')}, which never matches — ${evidence}`,
          );
        else out.push(`  # = ${n.dictionary.key} ${n.ports.join(' ')} (used_by ${n.dictionary.usedBy.join(', ')}) — ${evidence}`);
        if (n.role === 'generic') out.push(`  #   note: ${n.why}`);
        continue;
      }
      if (n.role === 'generic') {
        out.push(`  # generic, not proposed: ${n.name} ${n.ports.join(' ')} — ${n.why}`);
        continue;
      }
      out.push(`  + - domain: "${n.name}"`);
      out.push(`  +   role: ${n.role === 'review' ? 'primary # REVIEW: ' + n.why : n.role}`);
      out.push(`  +   ports: [${n.ports.join(', ')}]`);
      out.push(`  +   used_by: [${r.label}]`);
      out.push(`  +   source: [${sourceId}]`);
      out.push(`  +   note: "${n.role === 'review' ? '' : n.why + '; '}${evidence}"`);
    }
    for (const u of r.unnamed.slice(0, 5)) out.push(`  # unnamed endpoint: ${u.address} ${u.port}, ${u.packets} packets (no DNS answer, SNI or Host seen)`);
  }
  return `${out.join('\n')}\n`;
}

/** A passive-DNS record (Farsight COF) from the DNS answers in captures: what a resolver log would hold. */
export interface CofRecord {
  rrname: string;
  rrtype: 'A' | 'AAAA' | 'CNAME';
  rdata: string;
  time_first: number;
  time_last: number;
  count: number;
}

/** Every DNS answer (A, AAAA, CNAME) in the captures, aggregated as passive DNS (Unix seconds). */
export async function passiveDnsFromCaptures(files: string[]): Promise<CofRecord[]> {
  const recs = new Map<string, CofRecord>();
  for (const file of files) {
    for await (const f of readFrames(file)) {
      const p = parseEthernet(f.data);
      if (!p || p.proto !== 17 || p.srcPort !== 53) continue;
      const t = Math.floor(f.tsMs / 1000);
      for (const a of dnsAnswers(p.payload)) {
        const k = `${a.name}\t${a.type}\t${a.data}`;
        const r = recs.get(k);
        if (r) {
          r.time_first = Math.min(r.time_first, t);
          r.time_last = Math.max(r.time_last, t);
          r.count++;
        } else recs.set(k, { rrname: a.name, rrtype: a.type, rdata: a.data, time_first: t, time_last: t, count: 1 });
      }
    }
  }
  return [...recs.values()];
}
