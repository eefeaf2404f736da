import { backendsTruthCsv, writeBackendDatasets } from './backends.js';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadRules, type Dictionary } from '@haystack/rules';
import { v4ToText } from './addr.js';
import { buildCatalog, type DeviceKind } from './catalog.js';
import { DnsWorld, pdnsLines, writeDnstap } from './dns.js';
import { Exporter, STYLES_BY_PROTOCOL, type ExportCounters, type ExporterConfig, type ExportStyle } from './export.js';
import { resolveOptions, simHours, type SimOptions } from './options.js';
import { COLLECTOR, PcapSink, UdpSink, collectorPort, type PacketSink } from './outputs.js';
import { buildPopulation, lineText4, lineText6, truthRows, type Population, type TruthRow } from './population.js';
import { Rng } from './rng.js';
import { TrafficGenerator, type Stray, type TrafficTotals } from './traffic.js';
import { SflowFabricExporter, buildFabric, fabricMacs, fabricMemberExport, fabricRoutes, memberTruthCsv, type Fabric } from './ixp.js';

/** A whole simulated ISP, before any traffic: deterministic from the options. */
export interface World {
  o: SimOptions;
  dict: Dictionary;
  kinds: DeviceKind[];
  dns: DnsWorld;
  pop: Population;
  exporters: ExporterConfig[];
  lookbackDays: number;
  /** World day 0 = first passive-DNS day; the simulation starts `lookbackDays` later. */
  day0Ms: number;
  t0Ms: number;
  endMs: number;
  worldDays: number;
  truth: TruthRow[];
  /** The exchange (o.ixpMembers > 0), else null. */
  fabric: Fabric | null;
}

const DAY = 86_400_000;

export function buildWorld(partial: Partial<SimOptions> = {}, dict?: Dictionary): World {
  const o = resolveOptions(partial);
  const rules = dict ?? loadRules(o.rulesDir);
  const lookbackDays = o.lookbackDays ?? rules.policy.lookbackDays;
  const t0Ms = Date.parse(`${o.startDay}T00:00:00Z`);
  const hours = simHours(o);
  const endMs = t0Ms + hours * 3_600_000;
  const day0Ms = t0Ms - lookbackDays * DAY;
  const worldDays = lookbackDays + Math.ceil(hours / 24);
  const kinds = buildCatalog(rules);
  const dns = new DnsWorld(rules, {
    seed: o.seed,
    days: worldDays,
    day0: day0Ms / 1000,
    churnShare: o.churnShare,
    subscriberPrefixes: [o.v4Prefix, o.v6Prefix],
  });
  const pop = buildPopulation(o, kinds, dns.domains, dns.v6, t0Ms, endMs);
  // An exchange exporting IPFIX: every fabric exporter sends the MAC-carrying layout.
  const styles: ExportStyle[] = o.ixpMembers > 0 && o.ixpExport === 'ipfix' ? ['ixp-ipfix'] : STYLES_BY_PROTOCOL[o.protocol];
  const er = new Rng(o.seed, 'exporters');
  const exporters: ExporterConfig[] = Array.from({ length: o.exporters }, (_, i) => {
    const style = styles[i % styles.length]!;
    return {
      index: i,
      address: `192.0.2.${11 + i}`,
      port: 50_000 + i,
      style,
      version: style.endsWith('v9') ? 9 : 10,
      domainId: i + 1,
      sampling: o.sampling[i % o.sampling.length]!,
      mode: o.samplingMode,
      // Routers booted 1–20 days before the first simulated day (uptimes stay below 2^32 ms).
      bootMs: t0Ms - Math.floor(er.range(1, 20) * DAY),
      samplerId: style === 'pmacct-v9' ? 1 : 7 + i,
    };
  });
  const truth = truthRows(o, pop, kinds, t0Ms);
  const fabric = o.ixpMembers > 0 ? buildFabric(pop.lines, o.ixpMembers) : null;
  return { o, dict: rules, kinds, dns, pop, exporters, lookbackDays, day0Ms, t0Ms, endMs, worldDays, truth, fabric };
}

export interface GenerateResult {
  totals: TrafficTotals;
  /** Expected bytes before sampling per stream and world day (TrafficGenerator.expectedBytes). */
  expectedBytes: Float64Array;
  exporters: (ExportCounters & { index: number })[];
  strays: Stray[];
}

/**
 * Run the traffic of a world hour by hour into `sink`: records due in each hour are encoded
 * per exporter, and the exporters' datagrams are merged in time order.
 */
export async function generate(w: World, sink: PacketSink, onHour?: (h: number, hours: number) => void): Promise<GenerateResult> {
  const o = w.o;
  const fabric = w.fabric;
  const exps = w.exporters.map((cfg) =>
    fabric && o.ixpExport === 'sflow'
      ? new SflowFabricExporter(cfg, w.dns.v6, fabric)
      : new Exporter(
          cfg,
          w.dns.v6,
          o.maxMessageBytes,
          o.templateRefreshMessages,
          o.templateRefreshSeconds * 1000,
          fabric ? fabricMacs(fabric, w.dns.v6) : undefined,
        ),
  );
  const gen = new TrafficGenerator({
    o,
    kinds: w.kinds,
    dns: w.dns,
    pop: w.pop,
    exporters: exps,
    day0Ms: w.day0Ms,
    t0Ms: w.t0Ms,
    endMs: w.endMs,
    worldDays: w.worldDays,
    lineText: (i) => lineText4(w.pop.lines, i),
  });
  const arenas = exps.map(() => new Arena());
  const drain = async (until: number) => {
    exps.forEach((ex, e) => {
      const store = gen.stores[e]!;
      const [order, m] = store.due(until);
      const a = arenas[e]!;
      a.reset();
      ex.encode(store, order, m, (ts, payload, records) => a.add(ts, payload, records));
      store.removeDue(until);
    });
    // Merge the exporters' messages by time (ties: lower exporter first).
    const pos = new Int32Array(arenas.length);
    for (;;) {
      let best = -1;
      let bt = Infinity;
      for (let e = 0; e < arenas.length; e++) {
        const a = arenas[e]!;
        if (pos[e]! < a.n && a.ts[pos[e]!]! < bt) {
          bt = a.ts[pos[e]!]!;
          best = e;
        }
      }
      if (best < 0) break;
      const a = arenas[best]!;
      const i = pos[best]!++;
      const p = sink.packet(a.ts[i]!, w.exporters[best]!, a.buf.subarray(a.off[i]!, a.off[i]! + a.len[i]!), a.recs[i]!);
      if (p) await p;
    }
  };
  const hours = simHours(o);
  for (let h = 0; h < hours; h++) {
    gen.hour(h);
    await drain(w.t0Ms + (h + 1) * 3_600_000);
    onHour?.(h, hours);
  }
  gen.finish();
  await drain(Infinity);
  return { totals: gen.totals, expectedBytes: gen.expectedBytes, exporters: exps.map((e, index) => ({ index, ...e.counters })), strays: gen.strays };
}

/** Export messages of one exporter and hour, back to back in one growing buffer. */
class Arena {
  buf = Buffer.alloc(1 << 20);
  used = 0;
  n = 0;
  ts = new Float64Array(1024);
  off = new Int32Array(1024);
  len = new Int32Array(1024);
  recs = new Int32Array(1024);

  reset(): void {
    this.used = 0;
    this.n = 0;
  }

  add(ts: number, payload: Buffer, records: number): void {
    if (this.used + payload.length > this.buf.length) {
      const next = Buffer.alloc(Math.max(this.buf.length * 2, this.used + payload.length));
      this.buf.copy(next, 0, 0, this.used);
      this.buf = next;
    }
    if (this.n === this.ts.length) {
      const grow = <T extends Float64Array | Int32Array>(a: T): T => {
        const b = new (a.constructor as new (n: number) => T)(a.length * 2);
        b.set(a);
        return b;
      };
      this.ts = grow(this.ts);
      this.off = grow(this.off);
      this.len = grow(this.len);
      this.recs = grow(this.recs);
    }
    payload.copy(this.buf, this.used);
    this.ts[this.n] = ts;
    this.off[this.n] = this.used;
    this.len[this.n] = payload.length;
    this.recs[this.n] = records;
    this.n++;
    this.used += payload.length;
  }
}

export interface SimulateOutput {
  dir: string;
  /** Send to a collector on this machine instead of writing DIR/exports.pcap. */
  udp?: { host: string; port: number; rate: number };
  /** Replace the export output entirely (benchmarks: a NullSink). */
  sink?: PacketSink;
  onHour?: (h: number, hours: number) => void;
  /** Also write the DNS world as a resolver's dnstap feed (pdns.dnstap), for `haystack pdns import`. */
  dnstap?: boolean;
}

export interface SimulateSummary {
  dir: string;
  files: string[];
  lines: number;
  dualStackLines: number;
  devices: number;
  truthRows: number;
  pdnsRecords: number;
  certRecords: number;
  records: number;
  messages: number;
  strays: number;
  exporters: GenerateResult['exporters'];
  totals: TrafficTotals;
}

/** `haystack simulate`: the world, its traffic and every file an operator would have. */
export async function simulate(partial: Partial<SimOptions>, out: SimulateOutput, dict?: Dictionary): Promise<SimulateSummary> {
  const w = buildWorld(partial, dict);
  const dir = out.dir;
  await mkdir(dir, { recursive: true });
  const files: string[] = [];
  const put = async (name: string, text: string) => {
    await writeFile(join(dir, name), text);
    files.push(name);
  };
  const pdns = pdnsLines(w.dns, w.o.seed);
  await put('pdns.jsonl', pdns.join('\n') + '\n');
  if (out.dnstap) {
    await writeDnstap(w.dns, w.o.seed, join(dir, 'pdns.dnstap'));
    files.push('pdns.dnstap');
  }
  await put('certs.jsonl', w.dns.certs.map((c) => JSON.stringify(c)).join('\n') + '\n');
  await put('truth.csv', truthCsv(w.truth));
  await put('lines.csv', linesCsv(w));
  await put('haystack.yaml', configYaml(w));
  if (w.fabric) {
    await put('ixf-members.json', fabricMemberExport(w.fabric));
    await put('routes.pfx2as', fabricRoutes(w.fabric, w.pop.lines));
    await put('truth-members.csv', memberTruthCsv(w.fabric, w.truth));
    const f = w.fabric;
    await put('line-members.csv', 'subscriber,member_asn\n' + Array.from(f.memberOfLine, (m, i) => `${i},${f.members[m]!.asn}`).join('\n') + '\n');
  }

  let sink: PacketSink;
  if (out.sink) sink = out.sink;
  else if (out.udp) sink = new UdpSink(out.udp.host, out.udp.port, out.udp.rate);
  else {
    sink = await PcapSink.create(join(dir, 'exports.pcap'));
    files.push('exports.pcap');
  }
  let res: GenerateResult;
  try {
    res = await generate(w, sink, out.onHour);
  } finally {
    await sink.close();
  }
  await put('strays.csv', straysCsv(res.strays));
  // Where the backends live: dataset copies (backends.asn, .country, .providers) and the truth of the bytes.
  const ds = await writeBackendDatasets(join(dir, 'datasets'), w.dns.addressPlan(), new Date(w.t0Ms).toISOString().slice(0, 10));
  files.push(...ds.map((f) => `datasets/${f}`));
  await put('backends-truth.csv', backendsTruthCsv(w, res.expectedBytes));
  await put('world.json', JSON.stringify(worldJson(w, res, pdns.length), null, 2) + '\n');
  return {
    dir,
    files: files.sort(),
    lines: w.pop.lines.count,
    dualStackLines: w.pop.lines.has6.reduce((a, b) => a + b, 0),
    devices: w.pop.devices.count,
    truthRows: w.truth.length,
    pdnsRecords: pdns.length,
    certRecords: w.dns.certs.length,
    records: res.exporters.reduce((s, e) => s + e.records, 0),
    messages: res.exporters.reduce((s, e) => s + e.messages, 0),
    strays: res.strays.length,
    exporters: res.exporters,
    totals: res.totals,
  };
}

const iso = (ms: number) => new Date(ms).toISOString();

export function truthCsv(rows: TruthRow[]): string {
  const out = ['line,class,level,first_active,subscriber,family,units'];
  for (const r of rows) out.push(`${r.line},${r.class},${r.level},${iso(r.firstActiveMs)},${r.subscriber},${r.family},${r.units}`);
  return out.join('\n') + '\n';
}

function linesCsv(w: World): string {
  const l = w.pop.lines;
  const out = ['subscriber,ipv4,ipv6_prefix,exporter'];
  for (let i = 0; i < l.count; i++)
    out.push(`${i},${lineText4(l, i)},${l.has6[i] ? lineText6(l, i, w.o.v6LineBits) : ''},${w.exporters[l.exporter[i]!]!.address}`);
  return out.join('\n') + '\n';
}

function straysCsv(strays: Stray[]): string {
  const out = ['line,domain,kind,time,subscriber'];
  for (const s of [...strays].sort((a, b) => a.timeMs - b.timeMs || a.subscriber - b.subscriber))
    out.push(`${s.line},${s.domain},${s.kind},${iso(s.timeMs)},${s.subscriber}`);
  return out.join('\n') + '\n';
}

/** A configuration the pipeline can use on the generated data: `haystack -c DIR/haystack.yaml …`. */
function configYaml(w: World): string {
  if (w.fabric)
    return [
      '# Written by `haystack simulate --ixp-members`: the simulated exchange (paths relative to this directory).',
      'deployment: ixp',
      'ixp:',
      '  memberExport: ixf-members.json',
      '  routeTable: routes.pfx2as',
      `  hostPrefixLength6: 64`,
      'ingest:',
      `  allowExporters: [192.0.2.0/24, 127.0.0.0/8]`,
      '',
    ].join('\n');
  return [
    '# Written by `haystack simulate`: the subscriber space of the simulated ISP.',
    'ingest:',
    `  subscriberPrefixes: [${w.o.v4Prefix}, ${w.o.v6Prefix}]`,
    `  ipv6LinePrefixLength: ${w.o.v6LineBits}`,
    `  allowExporters: [192.0.2.0/24, 127.0.0.0/8]`,
    '',
  ].join('\n');
}

function worldJson(w: World, res: GenerateResult, pdnsRecords: number): object {
  const o = w.o;
  const domainsByHosting: Record<string, number> = {};
  for (const d of w.dns.domains) domainsByHosting[d.hosting] = (domainsByHosting[d.hosting] ?? 0) + 1;
  const truthByClass = new Map<string, number>();
  for (const r of w.truth) if (r.family === 4) truthByClass.set(r.class, (truthByClass.get(r.class) ?? 0) + 1);
  return {
    format: 'haystack-sim-world/1',
    options: { ...o, rulesDir: undefined },
    rulesDigest: w.dict.digest,
    window: {
      pdnsFrom: iso(w.day0Ms).slice(0, 10),
      firstDay: o.startDay,
      start: iso(w.t0Ms),
      end: iso(w.endMs),
      lookbackDays: w.lookbackDays,
      worldDays: w.worldDays,
    },
    subscriberPrefixes: [o.v4Prefix, o.v6Prefix],
    collector: COLLECTOR,
    exporters: w.exporters.map((e) => ({
      ...e,
      collectorPort: collectorPort(e.version),
      lines: w.pop.lines.exporter.reduce((s, x) => s + (x === e.index ? 1 : 0), 0),
      unsampledPackets: res.totals.unsampledIot[e.index]! + res.totals.unsampledBackground[e.index]!,
      unsampledIotPackets: res.totals.unsampledIot[e.index]!,
      ...res.exporters[e.index],
    })),
    population: {
      lines: w.pop.lines.count,
      dualStackLines: w.pop.lines.has6.reduce((a, b) => a + b, 0),
      devices: w.pop.devices.count,
      streams: w.pop.streams.count,
    },
    classes: w.kinds.map((k) => ({
      id: k.id,
      kind: k.kind,
      category: k.category,
      penetration: Math.min(1, (o.penetration[k.id] ?? k.penetration) * o.penetrationScale),
      ownerLines: w.pop.owners.get(k.id)!.lines,
      units: w.pop.owners.get(k.id)!.units,
      truthLinesIpv4: truthByClass.get(k.id) ?? 0,
      domains: { direct: k.direct.map((i) => w.dns.domains[i]!.key), indirect: k.indirect.map((i) => w.dns.domains[i]!.key) },
    })),
    domainsByHosting,
    domains: w.dns.domains.map((d) => ({
      domain: d.key,
      role: d.def.role,
      hosting: d.hosting,
      intended: d.intended,
      cdn: d.cdn,
      instances: d.instances,
      dualStack: d.dual,
      churn: d.churn,
      persistent: d.persistent,
      ports: d.ports.map((p) => `${p.proto === 6 ? 'tcp' : 'udp'}/${p.port}`),
      addressesByDay: d.v4.map((l, day) => ({ day: iso(w.day0Ms + day * DAY).slice(0, 10), v4: l.map(v4ToText), v6: d.v6[day]!.map((i) => w.dns.v6.text(i)) })),
    })),
    reusedAddresses: w.dns.reused.map((r) => ({
      ...r,
      lastIotDay: iso(w.day0Ms + r.lastIotDay * DAY).slice(0, 10),
      tenantFrom: iso(w.day0Ms + r.tenantFrom * DAY).slice(0, 10),
    })),
    files: { pdnsRecords, certRecords: w.dns.certs.length, truthRows: w.truth.length, strays: res.strays.length },
    traffic: res.totals,
  };
}
