import { formatAddress, parseAddress } from '@haystack/common';
import type { ClassKind } from '@haystack/hitlist-contract';
import { v4Prefix, v4ToText, type V6Table } from './addr.js';
import type { DeviceKind } from './catalog.js';
import type { SimDomain } from './dns.js';
import type { SimOptions } from './options.js';
import { Rng, hash32 } from './rng.js';

/**
 * Subscriber lines, the devices behind them and the traffic streams those devices keep up:
 * one stream per (device, domain, port, direction). Everything the hour-by-hour generator
 * touches lives in typed arrays indexed by stream, so a hundred thousand lines cost a few
 * hundred megabytes at most and no object per stream.
 */
export interface Lines {
  count: number;
  /** Public IPv4 address (NAT) per line. */
  v4: Uint32Array;
  /** IPv6 line prefix per line (7 bytes for a /56, zero-padded to 8 bytes), or has6 = 0. */
  has6: Uint8Array;
  prefix6: Uint8Array;
  exporter: Uint8Array;
  /** How much generic traffic the household makes (log-normal around 1). */
  activity: Float32Array;
}

export interface Devices {
  count: number;
  line: Uint32Array;
  kind: Uint16Array;
  /** Unix ms the device starts talking (the simulation start for devices already there). */
  installMs: Float64Array;
  /** V6Table index of its IPv6 address, -1 without. */
  v6: Int32Array;
}

export class Streams {
  count = 0;
  device = new Uint32Array(0);
  domain = new Uint16Array(0);
  port = new Uint16Array(0);
  proto = new Uint8Array(0);
  /** 0: device → service (upstream), 1: service → device. */
  dir = new Uint8Array(0);
  v6 = new Uint8Array(0);
  /** Packets per hour when idle (0: the domain is only contacted while active). */
  idleRate = new Float32Array(0);
  /** Packets per hour during active periods. */
  activeRate = new Float32Array(0);
  pktSize = new Float32Array(0);
  /** Connection period in seconds and its phase; burst > 0 for periodic short connections. */
  period = new Float32Array(0);
  phase = new Float32Array(0);
  burst = new Float32Array(0);
  /** Shared by both directions of one (device, domain, port): ports and server choice. */
  salt = new Uint32Array(0);

  /** Field by field (not by computed key) so the object keeps one fast shape. */
  grow(n: number): void {
    const cap = this.device.length;
    if (this.count + n <= cap) return;
    const next = Math.max(cap * 2, this.count + n, 1024);
    const g = <T extends Uint8Array | Uint16Array | Uint32Array | Float32Array>(a: T): T => {
      const b = new (a.constructor as new (n: number) => T)(next);
      b.set(a);
      return b;
    };
    this.device = g(this.device);
    this.domain = g(this.domain);
    this.port = g(this.port);
    this.proto = g(this.proto);
    this.dir = g(this.dir);
    this.v6 = g(this.v6);
    this.idleRate = g(this.idleRate);
    this.activeRate = g(this.activeRate);
    this.pktSize = g(this.pktSize);
    this.period = g(this.period);
    this.phase = g(this.phase);
    this.burst = g(this.burst);
    this.salt = g(this.salt);
  }
}

export interface TruthRow {
  subscriber: number;
  family: 4 | 6;
  line: string;
  class: string;
  level: ClassKind;
  firstActiveMs: number;
  units: number;
}

export interface Population {
  lines: Lines;
  devices: Devices;
  streams: Streams;
  /** Per device kind: lines owning at least one unit, and units. */
  owners: Map<string, { lines: number; units: number }>;
}

const ACTIVE_ONLY: Record<DeviceKind['category'], number> = { media: 0.4, camera: 0.25, appliance: 0.15 };

export function lineText4(lines: Lines, i: number): string {
  return v4ToText(lines.v4[i]!);
}

export function lineText6(lines: Lines, i: number, bits: number): string {
  const b = new Uint8Array(16);
  b.set(lines.prefix6.subarray(i * 8, i * 8 + 8));
  return `${formatAddress(b)}/${bits}`;
}

/** Scatter index i over [0, size) without repeats: an odd multiplier modulo a power of two. */
function permute(i: number, size: number, a: number, b: number): number {
  return Number((BigInt(a) * BigInt(i) + BigInt(b)) % BigInt(size));
}

export function buildPopulation(o: SimOptions, kinds: DeviceKind[], domains: SimDomain[], v6: V6Table, t0Ms: number, endMs: number): Population {
  const r = new Rng(o.seed, 'population');
  const n = o.lines;
  const p4 = v4Prefix(o.v4Prefix);
  if (n > p4.size * 0.9) throw new Error(`${n} lines do not fit in ${o.v4Prefix}`);
  const lines: Lines = {
    count: n,
    v4: new Uint32Array(n),
    has6: new Uint8Array(n),
    prefix6: new Uint8Array(n * 8),
    exporter: new Uint8Array(n),
    activity: new Float32Array(n),
  };
  // Lines scattered over the prefix; each exporter (a BNG) serves one slice of it.
  const a4 = (r.u32() | 1) >>> 0;
  const b4 = r.u32();
  for (let i = 0, j = 0; i < n; j++) {
    const off = permute(j, p4.size, a4, b4);
    const last = (p4.base + off) & 255;
    if (last === 0 || last === 255) continue;
    lines.v4[i] = (p4.base + off) >>> 0;
    lines.exporter[i] = Math.floor((off * o.exporters) / p4.size);
    i++;
  }
  const head6 = parseAddress(o.v6Prefix.split('/')[0]!);
  const lineBits = o.v6LineBits - 32;
  const size6 = 2 ** lineBits;
  const a6 = (r.u32() | 1) >>> 0;
  const b6 = r.u32();
  let k6 = 0;
  for (let i = 0; i < n; i++) {
    lines.activity[i] = r.logNormal(1, 0.5);
    if (!r.chance(o.ipv6Share)) continue;
    lines.has6[i] = 1;
    // The line's bits go right after the /32, left-aligned in the next 32 bits.
    const idx = permute(k6++, size6, a6, b6) * 2 ** (32 - lineBits);
    const p = lines.prefix6.subarray(i * 8, i * 8 + 8);
    p.set(head6.subarray(0, 4));
    p[4] = (idx >>> 24) & 255;
    p[5] = (idx >>> 16) & 255;
    p[6] = (idx >>> 8) & 255;
    p[7] = idx & 255;
  }

  // Ownership: per line and class, a Bernoulli draw at the class's penetration.
  const rates = kinds.map((k) => Math.min(1, (o.penetration[k.id] ?? k.penetration) * o.penetrationScale));
  const devLine: number[] = [];
  const devKind: number[] = [];
  const devInstall: number[] = [];
  const devV6: number[] = [];
  const owners = new Map<string, { lines: number; units: number }>(kinds.map((k) => [k.id, { lines: 0, units: 0 }]));
  const span = endMs - t0Ms;
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < kinds.length; k++) {
      if (!r.chance(rates[k]!)) continue;
      const units = r.chance(0.15) ? 2 : 1;
      const ow = owners.get(kinds[k]!.id)!;
      ow.lines++;
      ow.units += units;
      for (let u = 0; u < units; u++) {
        devLine.push(i);
        devKind.push(k);
        devInstall.push(r.chance(o.newDeviceShare) ? t0Ms + Math.floor(r.float() * span) : t0Ms);
        if (lines.has6[i]) {
          const addr = new Uint8Array(16);
          addr.set(lines.prefix6.subarray(i * 8, i * 8 + 8));
          addr[7] = 0; // first /64 of the /56: the home LAN
          for (let b = 8; b < 16; b++) addr[b] = r.int(256);
          devV6.push(v6.add(addr));
        } else devV6.push(-1);
      }
    }
  }
  const devices: Devices = {
    count: devLine.length,
    line: Uint32Array.from(devLine),
    kind: Uint16Array.from(devKind),
    installMs: Float64Array.from(devInstall),
    v6: Int32Array.from(devV6),
  };

  // Streams.
  const s = new Streams();
  const rs = new Rng(o.seed, 'streams');
  for (let d = 0; d < devices.count; d++) {
    const kind = kinds[devices.kind[d]!]!;
    let doms = kind.kind === 'platform' ? kind.direct.filter(() => rs.chance(0.7)) : [...kind.direct];
    // A product known only through its maker's domains (no domain of its own) contacts at least one of those.
    const pool = kind.direct.length ? kind.direct : kind.indirect;
    if (doms.length === 0) doms = [pool[rs.int(pool.length)]!];
    for (const i of kind.indirect) if (rs.chance(0.3) && !doms.includes(i)) doms.push(i);
    const line = devices.line[d]!;
    for (let j = 0; j < doms.length; j++) {
      const dom = domains[doms[j]!]!;
      let ports = dom.ports;
      if (ports.length > 2) {
        const x = rs.int(ports.length);
        const y = (x + 1 + rs.int(ports.length - 1)) % ports.length;
        ports = [ports[x]!, ports[y]!];
      }
      // The first domain always carries idle traffic, so every device is visible over time.
      const activeOnly = j > 0 && rs.chance(ACTIVE_ONLY[kind.category]);
      const idle = activeOnly ? 0 : rs.chance(0.8) ? rs.logUniform(100, 1000) : rs.logUniform(10, 100);
      const active = kind.category === 'appliance' ? rs.logUniform(300, 3000) : rs.logUniform(2000, 20000);
      const period = dom.persistent ? rs.logUniform(3600, 12 * 3600) : rs.logUniform(30, 600);
      const burst = dom.persistent ? 0 : Math.min(period * 0.3, rs.logUniform(1, 10));
      const phase = rs.float() * period;
      const up = rs.logUniform(70, 300);
      const down = rs.logUniform(90, 1000);
      const v6 = lines.has6[line] === 1 && dom.dual && devices.v6[d]! >= 0 ? 1 : 0;
      for (const p of ports) {
        const salt = hash32(o.seed, d, dom.index, p.port);
        for (let dir = 0; dir < 2; dir++) {
          s.grow(1);
          const i = s.count++;
          s.device[i] = d;
          s.domain[i] = dom.index;
          s.port[i] = p.port;
          s.proto[i] = p.proto;
          s.dir[i] = dir;
          s.v6[i] = v6;
          const share = (dir === 0 ? 0.45 : 0.55) / ports.length;
          s.idleRate[i] = idle * share;
          s.activeRate[i] = active * share;
          s.pktSize[i] = dir === 0 ? up : down;
          s.period[i] = period;
          s.phase[i] = phase;
          s.burst[i] = burst;
          s.salt[i] = salt;
        }
      }
    }
  }
  return { lines, devices, streams: s, owners };
}

/**
 * Ground truth as the detector sees lines: per line identity (the IPv4 address, or the IPv6
 * /56 for a dual-stack line's IPv6 traffic) every class a device on it belongs to — product,
 * implied manufacturer, platforms — when that device has traffic of that family.
 */
export function truthRows(o: SimOptions, pop: Population, kinds: DeviceKind[], t0Ms: number): TruthRow[] {
  const { lines, devices, streams } = pop;
  // Families each device uses.
  const fam = new Uint8Array(devices.count);
  for (let i = 0; i < streams.count; i++) fam[streams.device[i]!]! |= streams.v6[i] ? 2 : 1;
  const rows = new Map<string, TruthRow>();
  for (let d = 0; d < devices.count; d++) {
    const line = devices.line[d]!;
    const first = Math.max(t0Ms, devices.installMs[d]!);
    for (const f of [4, 6] as const) {
      if (!(fam[d]! & (f === 4 ? 1 : 2))) continue;
      const id = f === 4 ? lineText4(lines, line) : lineText6(lines, line, o.v6LineBits);
      for (const t of kinds[devices.kind[d]!]!.truth) {
        const k = `${line}|${f}|${t.class}`;
        const row = rows.get(k);
        if (row) {
          row.firstActiveMs = Math.min(row.firstActiveMs, first);
          row.units++;
        } else rows.set(k, { subscriber: line, family: f, line: id, class: t.class, level: t.level, firstActiveMs: first, units: 1 });
      }
    }
  }
  const levelOrder = { product: 0, manufacturer: 1, platform: 2 };
  return [...rows.values()].sort(
    (a, b) =>
      a.subscriber - b.subscriber || a.family - b.family || levelOrder[a.level] - levelOrder[b.level] || (a.class < b.class ? -1 : a.class > b.class ? 1 : 0),
  );
}
