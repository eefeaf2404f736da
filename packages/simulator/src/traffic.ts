import type { DeviceKind } from './catalog.js';
import type { DnsWorld, SimDomain } from './dns.js';
import type { ExportCounters, ExporterConfig } from './export.js';
import type { SimOptions } from './options.js';
import type { Population } from './population.js';
import { FLAG_DOWN, FLAG_V6, RecordStore } from './records.js';
import { Rng, WeightedPicker, hash32 } from './rng.js';

/**
 * Traffic without simulating packets (docs/method.md, step 7's rate model):
 *
 * - per (device, domain, port, direction) stream and hour, the packet rate follows the
 *   device's idle rate (100–1,000 packets per hour for most domains, some only while
 *   active), a daily rhythm, and active periods (up to 10,000+ packets per hour) drawn per
 *   device and day, more in the evening;
 * - 1:N sampling is applied statistically: random sampling keeps each packet with
 *   probability 1/N, so the sampled packets of a Poisson stream are a Poisson stream of rate
 *   λ/N (drawn directly; the unsampled rest is accounted as one Poisson draw per exporter and
 *   hour); deterministic sampling keeps every Nth packet of the stream from a per-stream
 *   phase, so it draws the unsampled count and places the sampled ones evenly;
 * - only sampled packets get times, and they go through each router's flow cache: a record
 *   ends after the inactive timeout without packets or the active timeout after its start,
 *   or when the connection (NAT source port) changes. Records are exported at their expiry.
 *
 * Background traffic of every line — web and API flows to CDN and cloud addresses (among them
 * the shared edges of CDN-hosted IoT domains and cloud addresses IoT VMs gave up), video,
 * NTP — and stray contacts of IoT domains by lines without the device (companion apps) go
 * through the same sampling and cache.
 */
export interface Stray {
  subscriber: number;
  line: string;
  domain: string;
  kind: string;
  timeMs: number;
}

export interface TrafficTotals {
  /** Packets before sampling, per exporter: IoT streams and background. */
  unsampledIot: number[];
  unsampledBackground: number[];
  /** Sampled packets that went into records, per exporter. */
  sampled: number[];
  /** Unidirectional background flows (sampled or not), per exporter. */
  backgroundFlows: number[];
  streamRecords: number;
  backgroundRecords: number;
}

const HOUR = 3_600_000;
const DAY = 86_400_000;

/** Household activity by hour of day (UTC taken as local): quiet nights, evening peak. Mean 1. */
const WEB_DIURNAL = normalise([
  0.35, 0.2, 0.12, 0.1, 0.1, 0.15, 0.35, 0.7, 0.85, 0.8, 0.8, 0.85, 0.95, 0.9, 0.85, 0.9, 1.0, 1.2, 1.45, 1.7, 1.85, 1.8, 1.4, 0.8,
]);
/** Idle IoT traffic barely follows the household (keep-alives), a little. Mean 1. */
const IDLE_DIURNAL = WEB_DIURNAL.map((w) => 0.8 + 0.2 * w);
const SESSIONS_PER_DAY: Record<DeviceKind['category'], number> = { media: 3, camera: 4, appliance: 2 };

function normalise(xs: number[]): number[] {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  return xs.map((x) => x / m);
}

export interface TrafficContext {
  o: SimOptions;
  kinds: DeviceKind[];
  dns: DnsWorld;
  pop: Population;
  /** NetFlow/IPFIX exporters, or the exchange fabric's sFlow agents: the traffic needs only their sampling. */
  exporters: { cfg: ExporterConfig; counters: ExportCounters }[];
  /** Unix ms of world day 0 (first passive-DNS day) and of the first simulated hour. */
  day0Ms: number;
  t0Ms: number;
  /** End of the simulated period: no packet is later. */
  endMs: number;
  worldDays: number;
  lineText: (subscriber: number) => string;
}

export class TrafficGenerator {
  readonly stores: RecordStore[];
  readonly totals: TrafficTotals;
  readonly strays: Stray[] = [];
  private readonly I: number;
  private readonly A: number;
  private readonly p: Float64Array;
  /** ln(1 − 1/N) per exporter (geometric skips between sampled packets). */
  private readonly lq: Float64Array;
  private readonly N: Int32Array;
  private readonly det: boolean;
  private readonly tr: Rng;
  private readonly sp: Rng;
  private readonly restMean: Float64Array;
  // Flow cache state per stream.
  private readonly cOpen: Uint8Array;
  private readonly cStart: Float64Array;
  private readonly cLast: Float64Array;
  private readonly cPkts: Float64Array;
  private readonly cBytes: Float64Array;
  private readonly cConn: Float64Array;
  private readonly cPhase: Uint32Array;
  // Active periods of the current day, per device.
  private sessOff: Int32Array;
  private sessCnt: Uint8Array;
  private sessStart = new Float64Array(0);
  private sessEnd = new Float64Array(0);
  private readonly streamExp: Uint8Array;
  private readonly hourPick = new WeightedPicker(WEB_DIURNAL);
  private tbuf = new Float64Array(1024);
  /** Web flow sizes (downstream packets): log-normal quantiles, median 30, heavy tail. */
  private readonly webSizes = new Float64Array(1024);
  /** Per exporter and web size: probability that random 1:N sampling keeps none of the flow's packets. */
  private readonly webNone: Float64Array;
  private readonly primaryByKind: number[][];
  private video: { line: number; start: number; durMs: number; rate: number }[][] = [];
  /** line × 65536 + kind for every device owned: strays go only to lines without the kind. */
  private readonly owned = new Set<number>();
  private strayPlan: { line: number; kind: number; domain: number; t: number }[][] = [];
  /**
   * Truth for where the traffic goes: per stream and world day (s * worldDays + day), the
   * expected bytes before sampling (packets drawn at that rate × the stream's mean packet size).
   */
  readonly expectedBytes: Float64Array;

  constructor(private readonly c: TrafficContext) {
    const o = c.o;
    const E = c.exporters.length;
    this.stores = c.exporters.map(() => new RecordStore());
    this.totals = {
      unsampledIot: new Array(E).fill(0),
      unsampledBackground: new Array(E).fill(0),
      sampled: new Array(E).fill(0),
      backgroundFlows: new Array(E).fill(0),
      streamRecords: 0,
      backgroundRecords: 0,
    };
    this.I = o.inactiveTimeoutS * 1000;
    this.A = o.activeTimeoutS * 1000;
    this.N = Int32Array.from(c.exporters.map((e) => e.cfg.sampling));
    this.p = Float64Array.from(c.exporters.map((e) => 1 / e.cfg.sampling));
    this.lq = Float64Array.from(c.exporters.map((e) => Math.log1p(-1 / e.cfg.sampling)));
    this.det = o.samplingMode === 'deterministic';
    this.tr = new Rng(o.seed, 'traffic');
    this.sp = new Rng(o.seed, 'sampling');
    this.restMean = new Float64Array(E);
    const S = c.pop.streams.count;
    this.expectedBytes = new Float64Array(S * c.worldDays);
    this.cOpen = new Uint8Array(S);
    this.cStart = new Float64Array(S);
    this.cLast = new Float64Array(S);
    this.cPkts = new Float64Array(S);
    this.cBytes = new Float64Array(S);
    this.cConn = new Float64Array(S);
    this.cPhase = new Uint32Array(S);
    this.streamExp = new Uint8Array(S);
    const { streams, devices, lines } = c.pop;
    for (let s = 0; s < S; s++) {
      const e = lines.exporter[devices.line[streams.device[s]!]!]!;
      this.streamExp[s] = e;
      this.cPhase[s] = this.sp.int(this.N[e]!);
    }
    this.sessOff = new Int32Array(devices.count);
    this.sessCnt = new Uint8Array(devices.count);
    const sizes = new Rng(o.seed, 'web-sizes');
    const draws = Array.from({ length: 4096 }, () => Math.min(200_000, 1 + Math.round(sizes.logNormal(30, 1.3)))).sort((a, b) => a - b);
    for (let i = 0; i < 1024; i++) this.webSizes[i] = draws[i * 4 + 2]!;
    this.webNone = new Float64Array(E * 1024);
    for (let e = 0; e < E; e++)
      for (let i = 0; i < 1024; i++) {
        const nd = this.webSizes[i]!;
        this.webNone[e * 1024 + i] = Math.exp((nd + Math.max(1, Math.round(nd * 0.5))) * this.lq[e]!);
      }
    for (let d = 0; d < devices.count; d++) this.owned.add(devices.line[d]! * 65536 + devices.kind[d]!);
    this.primaryByKind = c.kinds.map((k) =>
      [...k.direct, ...k.indirect].filter((i) => c.dns.domains[i]!.hosting !== 'generic' && c.dns.domains[i]!.def.role === 'primary'),
    );
  }

  /** Generate hour `h` (0-based from the first simulated hour): records go to the stores. */
  hour(h: number): void {
    const c = this.c;
    const slotStart = c.t0Ms + h * HOUR;
    const slotEnd = slotStart + HOUR;
    const hod = h % 24;
    if (hod === 0 || h === 0) this.planDay(Math.floor(h / 24));
    const S = c.pop.streams.count;
    this.restMean.fill(0);
    for (let s = 0; s < S; s++) this.streamHour(s, slotStart, slotEnd, hod);
    // The unsampled remainder of random sampling: one Poisson draw per exporter and hour.
    if (!this.det) for (let e = 0; e < this.restMean.length; e++) this.totals.unsampledIot[e]! += this.sp.poisson(this.restMean[e]!);
    const L = c.pop.lines.count;
    for (let line = 0; line < L; line++) this.backgroundHour(line, slotStart, hod);
    for (const v of this.video[hod] ?? []) this.videoSession(v.line, v.start, v.durMs, v.rate);
    for (const x of this.strayPlan[hod] ?? []) this.stray(x.line, x.kind, x.domain, x.t);
  }

  /** After the last hour: every open flow is exported (the routers flush their caches). */
  finish(): void {
    const S = this.c.pop.streams.count;
    for (let s = 0; s < S; s++) {
      if (!this.cOpen[s]) continue;
      const last = this.cLast[s]!;
      const start = this.cStart[s]!;
      const idle = last + this.I <= start + this.A;
      this.emitStream(s, idle ? last + this.I : start + this.A, idle ? 1 : 2);
    }
  }

  // ---- daily plans ----------------------------------------------------------

  private planDay(day: number): void {
    const c = this.c;
    const { devices, lines } = c.pop;
    const tr = this.tr;
    const dayStart = c.t0Ms + day * DAY;
    // Active periods per device: evening-weighted starts, minutes to hours long.
    const starts: number[] = [];
    const ends: number[] = [];
    for (let d = 0; d < devices.count; d++) {
      const cat = c.kinds[devices.kind[d]!]!.category;
      const n = Math.min(12, tr.poisson(SESSIONS_PER_DAY[cat]));
      const ss: [number, number][] = [];
      for (let i = 0; i < n; i++) {
        const t = dayStart + (this.hourPick.pick(tr) + tr.float()) * HOUR;
        ss.push([t, Math.min(dayStart + DAY, t + Math.min(3 * HOUR, tr.logNormal(12 * 60_000, 0.8)))]);
      }
      ss.sort((a, b) => a[0] - b[0]);
      this.sessOff[d] = starts.length;
      let k = 0;
      for (const [a, b] of ss) {
        if (k > 0 && a <= ends[ends.length - 1]!) {
          ends[ends.length - 1] = Math.max(ends[ends.length - 1]!, b);
          continue;
        }
        starts.push(a);
        ends.push(b);
        k++;
      }
      this.sessCnt[d] = k;
    }
    this.sessStart = Float64Array.from(starts);
    this.sessEnd = Float64Array.from(ends);
    // Video evenings and stray contacts, bucketed by hour of day.
    this.video = Array.from({ length: 24 }, () => []);
    this.strayPlan = Array.from({ length: 24 }, () => []);
    const bg = c.o.background;
    for (let line = 0; line < lines.count; line++) {
      const n = tr.poisson(0.8 * lines.activity[line]! * bg);
      for (let i = 0; i < n; i++) {
        const hh = this.hourPick.pick(tr);
        this.video[hh]!.push({
          line,
          start: dayStart + (hh + tr.float()) * HOUR,
          durMs: Math.min(3 * HOUR, tr.logNormal(40 * 60_000, 0.6)),
          rate: tr.logUniform(100_000, 400_000),
        });
      }
      if (tr.chance(c.o.strayRate)) {
        const kind = tr.int(c.kinds.length);
        const doms = this.primaryByKind[kind]!;
        const hh = tr.int(24);
        const t = dayStart + (hh + tr.float()) * HOUR;
        if (doms.length > 0 && !this.owned.has(line * 65536 + kind)) this.strayPlan[hh]!.push({ line, kind, domain: doms[tr.int(doms.length)]!, t });
      }
    }
  }

  // ---- IoT streams ----------------------------------------------------------

  private streamHour(s: number, slotStart: number, slotEnd: number, hod: number): void {
    const { streams, devices } = this.c.pop;
    const dev = streams.device[s]!;
    const inst = devices.installMs[dev]!;
    if (inst >= slotEnd) return;
    const a = slotStart > inst ? slotStart : inst;
    const idle = streams.idleRate[s]! * IDLE_DIURNAL[hod]!;
    const act = streams.activeRate[s]!;
    let cur = a;
    const so = this.sessOff[dev]!;
    const sc = this.sessCnt[dev]!;
    for (let q = so; q < so + sc; q++) {
      let x = this.sessStart[q]!;
      let y = this.sessEnd[q]!;
      if (y <= cur || x >= slotEnd) continue;
      if (x < cur) x = cur;
      if (y > slotEnd) y = slotEnd;
      if (x > cur && idle > 0) this.segment(s, cur, x, idle);
      this.segment(s, x, y, idle + act);
      cur = y;
    }
    if (cur < slotEnd && idle > 0) this.segment(s, cur, slotEnd, idle);
    if (this.cOpen[s]) {
      const last = this.cLast[s]!;
      const start = this.cStart[s]!;
      const idleExp = last + this.I;
      const actExp = start + this.A;
      const exp = idleExp <= actExp ? idleExp : actExp;
      if (exp <= slotEnd) this.emitStream(s, exp, idleExp <= actExp ? 1 : 2);
    }
  }

  /** Packets of stream s in [a, b) at `rate` per hour: sample, time, cache. */
  private segment(s: number, a: number, b: number, rate: number): void {
    const e = this.streamExp[s]!;
    const mean = (rate * (b - a)) / HOUR;
    this.expectedBytes[s * this.c.worldDays + this.worldDay(a)]! += mean * meanPacketSize(this.c.pop.streams.pktSize[s]!);
    const len = b - a;
    if (!this.det) {
      const p = this.p[e]!;
      const k = p >= 1 ? this.sp.poisson(mean) : this.sp.poisson(mean * p);
      this.restMean[e]! += mean - mean * p;
      this.totals.unsampledIot[e]! += k;
      if (k === 0) return;
      const t = this.sortedUniform(k);
      for (let i = 0; i < k; i++) this.packet(s, a + t[i]! * len);
      return;
    }
    const n = this.tr.poisson(mean);
    this.totals.unsampledIot[e]! += n;
    if (n === 0) return;
    const N = this.N[e]!;
    const ph = this.cPhase[s]!;
    const j0 = (N - ph) % N;
    this.cPhase[s] = (ph + n) % N;
    if (j0 >= n) return;
    const k = Math.floor((n - 1 - j0) / N) + 1;
    for (let i = 0; i < k; i++) this.packet(s, a + ((j0 + i * N + this.sp.float()) * len) / n);
  }

  private packet(s: number, t: number): void {
    const st = this.c.pop.streams;
    const per = st.period[s]!;
    const ph = st.phase[s]!;
    const conn = Math.floor((t / 1000 - ph) / per);
    const burst = st.burst[s]!;
    if (burst > 0) {
      // Periodic short connections: the packets of a period happen in its last `burst`
      // seconds. Squeezing towards the period's end (not its start) never moves a packet
      // earlier, so times stay after everything already exported and monotonic per stream.
      const ce = ((conn + 1) * per + ph) * 1000;
      t = ce - ((ce - t) * burst) / per;
      if (t >= this.c.endMs) t = this.c.endMs - 1;
    }
    t = Math.floor(t);
    let size = Math.round(st.pktSize[s]! * (0.5 + this.sp.float()));
    if (size < 40) size = 40;
    else if (size > 1500) size = 1500;
    if (this.cOpen[s]) {
      const last = this.cLast[s]!;
      const start = this.cStart[s]!;
      const idleExp = last + this.I;
      const actExp = start + this.A;
      if (t >= idleExp || t >= actExp || conn !== this.cConn[s]) {
        this.emitStream(s, idleExp <= actExp ? idleExp : actExp, idleExp <= actExp ? 1 : 2);
      } else {
        this.cLast[s] = t;
        this.cPkts[s]!++;
        this.cBytes[s]! += size;
        return;
      }
    }
    this.cOpen[s] = 1;
    this.cStart[s] = t;
    this.cLast[s] = t;
    this.cPkts[s] = 1;
    this.cBytes[s] = size;
    this.cConn[s] = conn;
  }

  private emitStream(s: number, exp: number, reason: number): void {
    const c = this.c;
    const st = c.pop.streams;
    const dev = st.device[s]!;
    const line = c.pop.devices.line[dev]!;
    const dom = c.dns.domains[st.domain[s]!]!;
    const conn = this.cConn[s]!;
    const connStart = (conn * st.period[s]! + st.phase[s]!) * 1000;
    let day = Math.floor((connStart - c.day0Ms) / DAY);
    if (day < 0) day = 0;
    else if (day >= c.worldDays) day = c.worldDays - 1;
    const v6 = st.v6[s] === 1;
    const list = v6 ? dom.v6[day]! : dom.v4[day]!;
    this.cOpen[s] = 0;
    if (list.length === 0) return;
    const salt = st.salt[s]!;
    const h = hash32(salt, conn | 0, day);
    const svc = list[h % list.length]!;
    const subPort = 1024 + (hash32(h, 0x51f15e) % 64000);
    const e = this.streamExp[s]!;
    const proto = st.proto[s]!;
    this.stores[e]!.push(
      exp,
      this.cStart[s]!,
      this.cLast[s]!,
      this.cPkts[s]!,
      this.cBytes[s]!,
      v6 ? c.pop.devices.v6[dev]! : c.pop.lines.v4[line]!,
      svc,
      subPort,
      st.port[s]!,
      (v6 ? FLAG_V6 : 0) | (st.dir[s] ? FLAG_DOWN : 0),
      proto,
      proto === 6 ? 0x18 : 0,
      reason,
    );
    this.totals.sampled[e]! += this.cPkts[s]!;
    this.totals.streamRecords++;
  }

  // ---- background -------------------------------------------------------------

  private backgroundHour(line: number, slotStart: number, hod: number): void {
    const c = this.c;
    const tr = this.tr;
    const lines = c.pop.lines;
    const e = lines.exporter[line]!;
    const act = lines.activity[line]! * c.o.background;
    const day = this.worldDay(slotStart);
    const services = c.dns.services;
    const has6 = lines.has6[line] === 1;
    const nf = tr.poisson(25 * WEB_DIURNAL[hod]! * act);
    let unsampled = 0;
    for (let f = 0; f < nf; f++) {
      // Sizes and sampling first: at 1:1000 most flows leave no sampled packet, and then
      // nothing else about them needs drawing.
      const si = tr.u32() >>> 22;
      const nd = this.webSizes[si]!;
      const nu = Math.max(1, Math.round(nd * 0.5));
      unsampled += nd + nu;
      let ku: number;
      let kd: number;
      let ju = 0;
      let jd = 0;
      const lq = this.lq[e]!;
      if (!this.det && (nu + nd) * this.p[e]! < 8 && lq < 0) {
        // Random sampling of both directions in one pass of geometric skips over their
        // packets (same distribution as two binomials). Most flows keep no packet at all:
        // that case costs one uniform draw against the tabled P(none) = (1 − 1/N)^n; the
        // others start from the first sampled position given there is one (a geometric
        // truncated below n: its uniform drawn in (P(none), 1]).
        ku = 0;
        kd = 0;
        const n = nu + nd;
        const none = this.webNone[e * 1024 + si]!;
        if (this.sp.float() < none) continue;
        let i = Math.floor(Math.log(1 - this.sp.float() * (1 - none)) / lq);
        while (i < n) {
          if (i < nu) ku++;
          else kd++;
          i += 1 + Math.floor(Math.log(this.sp.open()) / lq);
        }
      } else {
        ku = this.sampleK(nu, e);
        ju = this.j0;
        kd = this.sampleK(nd, e);
        jd = this.j0;
      }
      if (ku === 0 && kd === 0) continue;
      const svc = services[c.dns.webPicker.pick(tr)]!;
      const use6 = has6 && svc.v6[day]!.length > 0 && tr.chance(0.7);
      const list = use6 ? svc.v6[day]! : svc.v4[day]!;
      if (list.length === 0) continue;
      const addr = list[tr.int(list.length)]!;
      const x = tr.float();
      const port = x < 0.1 ? 80 : 443;
      const proto = x > 0.9 ? 17 : 6;
      const start = slotStart + tr.float() * HOUR;
      const dur = Math.min(600_000, tr.logNormal(5000, 1.2));
      const sub = use6 ? this.lineV6(line) : lines.v4[line]!;
      const subPort = 1024 + tr.int(64000);
      const fl = use6 ? FLAG_V6 : 0;
      if (ku > 0) this.records(e, start, dur, nu, ku, ju, 110, sub, addr, subPort, port, fl, proto);
      if (kd > 0) this.records(e, start, dur, nd, kd, jd, 1100, sub, addr, subPort, port, fl | FLAG_DOWN, proto);
    }
    this.totals.unsampledBackground[e]! += unsampled;
    this.totals.backgroundFlows[e]! += 2 * nf;
    // NTP: a query and its answer now and then.
    const nn = tr.poisson(0.3 * act);
    for (let i = 0; i < nn; i++) {
      const ntp = services[c.dns.ntp[tr.int(c.dns.ntp.length)]!]!;
      const list = ntp.v4[day]!;
      const addr = list[tr.int(list.length)]!;
      const t = slotStart + tr.float() * HOUR;
      const subPort = 1024 + tr.int(64000);
      this.flow(line, t, 30, 1, 76, lines.v4[line]!, addr, subPort, 123, 0, 17);
      this.flow(line, t + 30, 30, 1, 76, lines.v4[line]!, addr, subPort, 123, FLAG_DOWN, 17);
    }
  }

  private videoSession(line: number, start: number, durMs: number, rate: number): void {
    const c = this.c;
    const tr = this.tr;
    const lines = c.pop.lines;
    const svc = c.dns.services[c.dns.video[tr.int(c.dns.video.length)]!]!;
    const day = this.worldDay(start);
    const use6 = lines.has6[line] === 1 && svc.v6[day]!.length > 0;
    const list = use6 ? svc.v6[day]! : svc.v4[day]!;
    const addr = list[tr.int(list.length)]!;
    const sub = use6 ? this.lineV6(line) : lines.v4[line]!;
    const nd = Math.round((rate * durMs) / HOUR);
    const subPort = 1024 + tr.int(64000);
    const fl = use6 ? FLAG_V6 : 0;
    this.flow(line, start, durMs, Math.round(nd / 2), 60, sub, addr, subPort, 443, fl, 6);
    this.flow(line, start, durMs, nd, 1400, sub, addr, subPort, 443, fl | FLAG_DOWN, 6);
  }

  private stray(line: number, kind: number, domain: number, t: number): void {
    const c = this.c;
    const tr = this.tr;
    const dom: SimDomain = c.dns.domains[domain]!;
    const day = this.worldDay(t);
    const list = dom.v4[day]!;
    if (list.length === 0) return;
    const addr = list[tr.int(list.length)]!;
    const port = dom.ports[0]!;
    const nu = Math.round(tr.logUniform(10, 100));
    const dur = tr.range(30_000, 300_000);
    const subPort = 1024 + tr.int(64000);
    const v4 = c.pop.lines.v4[line]!;
    this.flow(line, t, dur, nu, 150, v4, addr, subPort, port.port, 0, port.proto);
    this.flow(line, t, dur, Math.round(nu * 1.5), 700, v4, addr, subPort, port.port, FLAG_DOWN, port.proto);
    this.strays.push({ subscriber: line, line: c.lineText(line), domain: dom.key, kind: c.kinds[kind]!.id, timeMs: Math.floor(t) });
  }

  /** A line's own IPv6 address for generic traffic: the first device address is as good as any host's. */
  private lineV6(line: number): number {
    let i = this.lineV6Cache.get(line);
    if (i === undefined) {
      const b = new Uint8Array(16);
      b.set(this.c.pop.lines.prefix6.subarray(line * 8, line * 8 + 8));
      b[7] = 0;
      b[8] = 0x02;
      b[15] = 0x01;
      i = this.c.dns.v6.add(b);
      this.lineV6Cache.set(line, i);
    }
    return i;
  }
  private readonly lineV6Cache = new Map<number, number>();

  private worldDay(t: number): number {
    const d = Math.floor((t - this.c.day0Ms) / DAY);
    return d < 0 ? 0 : d >= this.c.worldDays ? this.c.worldDays - 1 : d;
  }

  /** Index of the first sampled packet of the last `sampleK` (deterministic sampling). */
  private j0 = 0;

  /** Sampled packets of a flow of `n`: binomial, or every Nth from a random phase. */
  private sampleK(n: number, e: number): number {
    if (!this.det) return this.sp.binomial(n, this.p[e]!);
    const N = this.N[e]!;
    const j0 = (N - this.sp.int(N)) % N;
    this.j0 = j0;
    return j0 < n ? Math.floor((n - 1 - j0) / N) + 1 : 0;
  }

  /**
   * One short-lived unidirectional flow of `n` packets over [start, start + dur): sampled,
   * timed and cut into records by the cache.
   */
  private flow(
    line: number,
    start: number,
    dur: number,
    n: number,
    size: number,
    sub: number,
    svc: number,
    subPort: number,
    svcPort: number,
    flags: number,
    proto: number,
  ): void {
    const e = this.c.pop.lines.exporter[line]!;
    this.totals.unsampledBackground[e]! += n;
    this.totals.backgroundFlows[e]!++;
    const k = this.sampleK(n, e);
    if (k > 0) this.records(e, start, dur, n, k, this.j0, size, sub, svc, subPort, svcPort, flags, proto);
  }

  /** The records of a flow whose `k` sampled packets (of `n`) are known. */
  private records(
    e: number,
    start: number,
    dur: number,
    n: number,
    k: number,
    j0: number,
    size: number,
    sub: number,
    svc: number,
    subPort: number,
    svcPort: number,
    flags: number,
    proto: number,
  ): void {
    const N = this.N[e]!;
    // Flows are cut at the end of the simulated period, like a capture.
    if (start + dur > this.c.endMs) dur = Math.max(1, this.c.endMs - start);
    let tk: Float64Array;
    if (this.det) {
      if (this.tbuf.length < k) this.tbuf = new Float64Array(k * 2);
      tk = this.tbuf;
      for (let i = 0; i < k; i++) tk[i] = (j0 + i * N + this.sp.float()) / n;
    } else tk = this.sortedUniform(k);
    const store = this.stores[e]!;
    const tcp = proto === 6 ? 0x18 : 0;
    const I = this.I;
    const A = this.A;
    let recs = 0;
    if (k > 16 && dur / k < I / 4) {
      // Dense: packets closer than the inactive timeout: one record per active timeout.
      let w0 = start;
      let left = k;
      const end = start + dur;
      while (left > 0 && w0 < end) {
        const w1 = Math.min(end, w0 + A);
        const kw = w1 >= end ? left : this.sp.binomial(left, (w1 - w0) / (end - w0));
        left -= kw;
        if (kw > 0) {
          const bytes = Math.round(kw * size * (0.9 + 0.2 * this.sp.float()));
          store.push(
            w1 >= end ? Math.floor(w1) + I : Math.floor(w0) + A,
            Math.floor(w0),
            Math.floor(w1) - 1,
            kw,
            bytes,
            sub,
            svc,
            subPort,
            svcPort,
            flags,
            proto,
            tcp,
            w1 >= end ? 1 : 2,
          );
          recs++;
        }
        w0 = w1;
      }
    } else {
      let rs = -1;
      let rl = 0;
      let rp = 0;
      let rb = 0;
      for (let i = 0; i <= k; i++) {
        const t = i < k ? Math.floor(start + tk[i]! * dur) : Infinity;
        if (rs >= 0) {
          const ie = rl + I;
          const ae = rs + A;
          if (t >= ie || t >= ae) {
            store.push(ie <= ae ? ie : ae, rs, rl, rp, rb, sub, svc, subPort, svcPort, flags, proto, tcp, ie <= ae ? 1 : 2);
            recs++;
            rs = -1;
          }
        }
        if (i === k) break;
        const b = Math.round(size * (0.5 + this.sp.float()));
        if (rs < 0) {
          rs = t;
          rl = t;
          rp = 1;
          rb = b;
        } else {
          rl = t;
          rp++;
          rb += b;
        }
      }
    }
    this.totals.sampled[e]! += k;
    this.totals.backgroundRecords += recs;
  }

  /** k sorted uniforms in [0, 1) by normalised exponential spacings (no sort). */
  private sortedUniform(k: number): Float64Array {
    if (this.tbuf.length < k + 1) this.tbuf = new Float64Array((k + 1) * 2);
    const t = this.tbuf;
    const sp = this.sp;
    if (k === 1) {
      t[0] = sp.float();
      return t;
    }
    let sum = 0;
    for (let i = 0; i < k; i++) {
      sum += sp.exp();
      t[i] = sum;
    }
    sum += sp.exp();
    const inv = 1 / sum;
    for (let i = 0; i < k; i++) t[i]! *= inv;
    return t;
  }
}

/** The mean of a packet's size as packet() draws it: p × U(0.5, 1.5), clamped to [40, 1500] (truth for the bytes). */
export function meanPacketSize(p: number): number {
  const a = 0.5 * p;
  const b = 1.5 * p;
  if (b <= a) return Math.min(Math.max(p, 40), 1500);
  const lo = 40;
  const hi = 1500;
  const len = (x: number, y: number) => Math.max(0, y - x);
  const mid0 = Math.max(a, lo);
  const mid1 = Math.min(b, hi);
  const integral = lo * len(a, Math.min(b, lo)) + (mid1 > mid0 ? (mid1 * mid1 - mid0 * mid0) / 2 : 0) + hi * len(Math.max(a, hi), b);
  return integral / (b - a);
}
