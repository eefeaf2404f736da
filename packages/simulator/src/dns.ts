import { DnstapFileWriter } from '@haystack/pdns';
import { createHash } from 'node:crypto';
import { isException, patternMatches, RegisteredDomains, type Dictionary, type DomainDef, type NamePattern } from '@haystack/rules';
import { AddressSpace, V6Table, v4ToText } from './addr.js';
import { Rng, WeightedPicker, hashString } from './rng.js';

/**
 * The DNS world behind the traffic (docs/method.md, steps 2–3): where every IoT domain is hosted,
 * day by day, and the passive DNS and certificate scans an operator would buy about it.
 *
 * IoT domains (the dictionary's) are hosted one of six ways:
 * - `vm`: CNAME to a dedicated cloud VM (`ec2-….compute.amazonaws.com`, its own registered
 *   domain under the Public Suffix List's private section) — dedicated; some VMs move daily
 *   (churn), and the addresses they leave go to other cloud tenants two days later;
 * - `own`: A records into the vendor's own address block — dedicated;
 * - `cdn`: CNAME chain to a shared CDN edge (Akamai-, CloudFront-style) that also serves
 *   generic web names every day — shared;
 * - `cert`: no passive DNS at all, but hosts presenting a certificate whose names all lie in
 *   the domain's registered domain — dedicated via the certificate fallback;
 * - `hidden`: neither in passive DNS nor identifiable by certificate (none, or one carrying
 *   an unrelated name) — unresolved;
 * - `generic`: the dictionary marks it generic (e.g. amazonaws.com endpoints): shared public
 *   endpoints, never evidence.
 * Generic web, video, cloud-tenant and NTP names share the same CDN edges and cloud ranges.
 */
export type Hosting = 'vm' | 'own' | 'cdn' | 'cert' | 'hidden' | 'generic';
/** What the hitlist build should conclude for the domain, given this world. */
export type Intended = 'dedicated' | 'shared' | 'certificate' | 'unresolved' | 'generic';

export const INTENDED: Record<Hosting, Intended> = {
  vm: 'dedicated',
  own: 'dedicated',
  cdn: 'shared',
  cert: 'certificate',
  hidden: 'unresolved',
  generic: 'generic',
};

export interface DomainPort {
  port: number;
  /** IP protocol: 6 tcp, 17 udp. */
  proto: number;
}

export interface SimDomain {
  index: number;
  key: string;
  def: DomainDef;
  regdom: string;
  hosting: Hosting;
  intended: Intended;
  /** Concrete names devices look up (patterns instantiated). */
  instances: string[];
  /** Has AAAA records: dual-stack lines reach it over IPv6. */
  dual: boolean;
  ports: DomainPort[];
  /** Long-lived connections (MQTT-style) or periodic short ones (HTTP polling). */
  persistent: boolean;
  churn: boolean;
  cdn: string | null;
  /** Per world day: IPv4 addresses (numbers) and IPv6 addresses (V6Table indices) serving it. */
  v4: number[][];
  v6: number[][];
}

/** A generic name that background traffic reaches. */
export interface GenericService {
  name: string;
  kind: 'web' | 'video' | 'tenant' | 'ntp' | 'aws';
  /** Popularity weight (background picks by it). */
  weight: number;
  /** The CDN serving it (web and video names), else undefined. */
  cdn?: string;
  v4: number[][];
  v6: number[][];
}

export interface PdnsEntry {
  rrname: string;
  rrtype: 'A' | 'AAAA' | 'CNAME' | 'NS' | 'TXT';
  rdata: string;
  first: number;
  last: number;
  seq: number;
}

interface CdnPool {
  id: string;
  v4: number[];
  v6: number[];
}

const CLOUD_REGIONS = [
  { region: 'eu-central-1', v4: ['3.64.0.0/14', '18.184.0.0/15'], v6: '2a05:d014' },
  { region: 'eu-west-1', v4: ['34.240.0.0/13', '54.72.0.0/15'], v6: '2a05:d018' },
  { region: 'us-west-2', v4: ['35.160.0.0/13', '44.224.0.0/12'], v6: '2600:1f14' },
];
const CDNS = [
  { id: 'akamai', v4: '23.32.0.0/11', v6: '2a02:26f0', size: 48 },
  { id: 'cloudfront', v4: '13.224.0.0/14', v6: '2600:9000', size: 48 },
  { id: 'fastly', v4: '151.101.0.0/16', v6: '2a04:4e42', size: 32 },
  { id: 'google', v4: '142.250.0.0/15', v6: '2a00:1450', size: 24 },
];
const HOSTING_V4 = ['5.9.0.0/16', '51.15.0.0/16', '139.59.0.0/16', '46.101.0.0/16'];
const VENDOR_V4 = ['185.0.0.0/8', '212.0.0.0/10', '94.130.0.0/16', '178.32.0.0/15'];
const AWS_PUBLIC_V4 = '52.94.0.0/16';

const WORDS = [
  'shop',
  'news',
  'mail',
  'play',
  'social',
  'bank',
  'travel',
  'sport',
  'music',
  'photo',
  'maps',
  'learn',
  'game',
  'stream',
  'cloud',
  'docs',
  'chat',
  'weather',
  'food',
  'auto',
];
const TLDS = ['com', 'net', 'org', 'de', 'co.uk', 'fr', 'io', 'eu'];

/** Shares of the hosting kinds for non-generic IoT domains. */
export const HOSTING_SHARES: [Hosting, number][] = [
  ['vm', 0.42],
  ['own', 0.22],
  ['cdn', 0.14],
  ['cert', 0.12],
  ['hidden', 0.1],
];

/** One block of the world's address space and who holds it. */
export interface PlanBlock {
  v4: string[];
  v6: string[];
  asn: number;
  org: string;
  /** ISO 3166-1 alpha-2. */
  country: string;
  /** A provider folder id (amazon, google, digitalocean), or null: in no listed provider. */
  provider: string | null;
}

export interface DnsWorldOptions {
  seed: number;
  /** Days of the world: look-back days then simulated days. */
  days: number;
  /** Unix seconds of world day 0, 00:00 UTC. */
  day0: number;
  churnShare: number;
  /** Subscriber prefixes: no service address may fall inside. */
  subscriberPrefixes: string[];
  /** Scales how many generic names exist (not the traffic). */
  genericNames?: number;
}

export class DnsWorld {
  readonly domains: SimDomain[] = [];
  readonly services: GenericService[] = [];
  readonly v6 = new V6Table();
  readonly pdns: PdnsEntry[] = [];
  /** Certificate scan lines (JSON objects, one per line of certs.jsonl). */
  readonly certs: object[] = [];
  /** Addresses IoT VMs gave up that cloud tenants later took (false positive bait). */
  readonly reused: { address: string; domain: string; lastIotDay: number; tenantFrom: number; tenant: string }[] = [];
  readonly webPicker: WeightedPicker;
  readonly ntp: number[];
  readonly video: number[];

  private readonly space: AddressSpace;
  private readonly book = new PdnsBook();
  private readonly regdoms = new RegisteredDomains();
  private readonly cdns = new Map<string, CdnPool>();
  private readonly released: { addr: number; domain: string; lastDay: number }[] = [];
  /** Per registered domain of `own` hosting: the vendor's /24 and IPv6 /32 head. */
  private readonly vendorBlock = new Map<string, string>();
  private readonly vendorV6 = new Map<string, string>();

  constructor(
    readonly dict: Dictionary,
    readonly o: DnsWorldOptions,
  ) {
    this.space = new AddressSpace(o.subscriberPrefixes);
    const r = new Rng(o.seed, 'dns');
    for (const c of CDNS) {
      const pool: CdnPool = { id: c.id, v4: [], v6: [] };
      for (let i = 0; i < c.size; i++) {
        pool.v4.push(this.space.v4(r, c.v4));
        pool.v6.push(this.v6.intern(this.space.v6(r, c.v6)));
      }
      this.cdns.set(c.id, pool);
    }
    this.planDomains(r.derive('domains'));
    this.planGeneric(r.derive('generic'));
    this.resolveDays(r.derive('days'));
    this.book.flush(this.pdns);
    this.scanCertificates(r.derive('certs'));
    this.webPicker = new WeightedPicker(this.services.map((s) => (s.kind === 'ntp' || s.kind === 'video' ? 0 : s.weight)));
    this.ntp = this.services.flatMap((s, i) => (s.kind === 'ntp' ? [i] : []));
    this.video = this.services.flatMap((s, i) => (s.kind === 'video' ? [i] : []));
  }

  /**
   * Who holds each block of this world's address space, as the offline datasets of an operator
   * would say it (packages/backends): the cloud regions (Amazon, by country), the CDNs, the hosting
   * ranges of certificate-only and hidden hosts, and each vendor's own /24 and IPv6 /32. The
   * simulator writes them as dataset copies (simulation/datasets/), the truth of where backends live.
   */
  addressPlan(): PlanBlock[] {
    const out: PlanBlock[] = [];
    const amazon = { asn: 16509, org: 'Amazon.com, Inc.', provider: 'amazon' };
    const country: Record<string, string> = { 'eu-central-1': 'DE', 'eu-west-1': 'IE', 'us-west-2': 'US' };
    for (const r of CLOUD_REGIONS) out.push({ v4: r.v4, v6: [`${r.v6}::/32`], ...amazon, country: country[r.region]! });
    out.push({ v4: [AWS_PUBLIC_V4], v6: [], ...amazon, country: 'US' });
    const cdn: Record<string, Omit<PlanBlock, 'v4' | 'v6'>> = {
      akamai: { asn: 20940, org: 'Akamai International B.V.', country: 'NL', provider: null },
      cloudfront: { ...amazon, country: 'US' },
      fastly: { asn: 54113, org: 'Fastly, Inc.', country: 'US', provider: null },
      google: { asn: 15169, org: 'Google LLC', country: 'US', provider: 'google' },
    };
    for (const c of CDNS) out.push({ v4: [c.v4], v6: [`${c.v6}::/32`], ...cdn[c.id]! });
    const hosting: Omit<PlanBlock, 'v4' | 'v6'>[] = [
      { asn: 24940, org: 'Hetzner Online GmbH', country: 'DE', provider: null },
      { asn: 12876, org: 'Scaleway SAS', country: 'FR', provider: null },
      { asn: 14061, org: 'DigitalOcean, LLC', country: 'GB', provider: 'digitalocean' },
      { asn: 14061, org: 'DigitalOcean, LLC', country: 'DE', provider: 'digitalocean' },
    ];
    HOSTING_V4.forEach((p, i) => out.push({ v4: [p], v6: [], ...hosting[i]! }));
    // A vendor's own block: its own network, in a country of its choosing (deterministic per name).
    const countries = ['CN', 'US', 'KR', 'DE', 'NL', 'JP', 'SE', 'TW'];
    [...this.vendorBlock.keys()].sort().forEach((regdom, i) => {
      out.push({
        v4: [this.vendorBlock.get(regdom)!],
        v6: [`${this.vendorV6.get(regdom)!}::/32`],
        asn: 64600 + i,
        org: `${regdom} network`,
        country: countries[hashString(regdom) % countries.length]!,
        provider: null,
      });
    });
    return out;
  }

  // ---- planning -------------------------------------------------------------

  private planDomains(r: Rng): void {
    const hostingPick = new WeightedPicker(HOSTING_SHARES.map(([, w]) => w));
    const vendorBlock = this.vendorBlock;
    const vendorV6 = this.vendorV6;
    // Every name is hosted by one entry: a single-name entry owns its names; a family's
    // instances never spell another entry's name (it covers those through its patterns).
    const claimed = new Set<string>();
    for (const def of this.dict.domains) if (!def.family) for (const p of def.patterns) if (p.kind === 'exact') claimed.add(p.text);
    this.dict.domains.forEach((def, index) => {
      let instances = instantiate(def.patterns, r);
      if (def.family) {
        for (let k = 0; k < 3 && instances.every((n) => claimed.has(n)); k++) instances = instantiate(def.patterns, r);
        const own = instances.filter((n) => !claimed.has(n));
        if (own.length) instances = own;
        for (const n of instances) claimed.add(n);
      }
      const regdom = this.regdoms.of(instances[0]!);
      let hosting: Hosting = def.generic ? 'generic' : HOSTING_SHARES[hostingPick.pick(r)]![0];
      // A certificate qualifies only when all its names share one registered domain.
      if (hosting === 'cert' && instances.some((n) => this.regdoms.of(n) !== regdom)) hosting = 'vm';
      const ports = def.ports.map((p) => ({
        port: p.port,
        proto: p.transport === 'udp' ? 17 : p.transport === 'tcp' ? 6 : p.port === 5683 || p.port === 123 || r.chance(0.3) ? 17 : 6,
      }));
      const mqtt = ports.some((p) => [8883, 1883, 5671, 5223].includes(p.port));
      const udpOnly = ports.every((p) => p.proto === 17);
      const dual = hosting === 'cdn' ? r.chance(0.8) : hosting === 'vm' || hosting === 'own' || hosting === 'generic' ? r.chance(0.3) : false;
      const d: SimDomain = {
        index,
        key: def.key,
        def,
        regdom,
        hosting,
        intended: INTENDED[hosting],
        instances,
        dual,
        ports,
        persistent: !udpOnly && (mqtt || r.chance(0.35)),
        churn: hosting === 'vm' && r.chance(this.o.churnShare),
        cdn: hosting === 'cdn' ? r.pick(['akamai', 'cloudfront']) : hosting === 'generic' && !/amazon|aws/.test(regdom) ? 'akamai' : null,
        v4: [],
        v6: [],
      };
      if (hosting === 'own') {
        if (!vendorBlock.has(regdom)) {
          const a = this.space.v4(r, r.pick(VENDOR_V4));
          vendorBlock.set(regdom, `${v4ToText((a & 0xffffff00) >>> 0)}/24`);
          vendorV6.set(regdom, `2a0${1 + r.int(9)}:${r.int(0x10000).toString(16)}`);
        }
      }
      this.domains.push(d);
    });
    this.deriveFamilies();
  }

  /**
   * What the build should conclude for a family (zone, twins, shards): it resolves every name its
   * patterns match, other entries' names too, and keeps the addresses of its dedicated names.
   * So it is dedicated when one name it covers is hosted on a dedicated address (VM, own block),
   * else shared when one is on shared infrastructure, else found by certificate when one is
   * certificate-only, else unresolved. Each name is hosted by one entry (`planDomains`).
   */
  private deriveFamilies(): void {
    const hosted: { name: string; d: SimDomain }[] = this.domains.flatMap((d) => d.instances.map((name) => ({ name, d })));
    for (const f of this.domains) {
      if (!f.def.family || f.hosting === 'generic') continue;
      const hostings = new Set(
        hosted.filter((x) => f.def.patterns.some((p) => patternMatches(p, x.name)) && !isException(f.def, x.name)).map((x) => x.d.hosting),
      );
      f.intended =
        hostings.has('vm') || hostings.has('own')
          ? 'dedicated'
          : hostings.has('cdn') || hostings.has('generic')
            ? 'shared'
            : hostings.has('cert')
              ? 'certificate'
              : 'unresolved';
    }
  }

  private planGeneric(r: Rng): void {
    const n = this.o.genericNames ?? 400;
    const cdnPick = new WeightedPicker([0.3, 0.3, 0.25, 0.15]);
    for (let k = 0; k < n; k++) {
      const name = `${r.pick(['www', 'static', 'cdn', 'img', 'api', 'assets'])}.${WORDS[k % WORDS.length]}${k}.${r.pick(TLDS)}`;
      // Zipf-like popularity: a few sites carry most browsing.
      this.services.push({ name, kind: 'web', weight: 1 / (k + 1) ** 0.9, cdn: CDNS[cdnPick.pick(r)]!.id, v4: [], v6: [] });
    }
    for (let k = 0; k < 12; k++) {
      const s: GenericService = { name: `video.${WORDS[(k * 7) % WORDS.length]}tv${k}.${r.pick(TLDS)}`, kind: 'video', weight: 1, v4: [], v6: [] };
      s.cdn = k % 2 ? 'akamai' : 'cloudfront';
      this.services.push(s);
    }
    for (let k = 0; k < Math.ceil(n / 3); k++) {
      this.services.push({ name: `api.${WORDS[(k * 3) % WORDS.length]}app${k}.io`, kind: 'tenant', weight: 0.15 / (k + 1) ** 0.8, v4: [], v6: [] });
    }
    for (let k = 0; k < 4; k++) this.services.push({ name: `${k}.pool.ntp.org`, kind: 'ntp', weight: 1, v4: [], v6: [] });
    for (const svc of ['s3.eu-central-1', 'dynamodb.eu-central-1', 'iot.eu-west-1', 'sqs.us-west-2']) {
      this.services.push({ name: `${svc}.amazonaws.com`, kind: 'aws', weight: 0.05, v4: [], v6: [] });
    }
  }

  // ---- day by day ------------------------------------------------------------

  private readonly vmOf = new Map<string, { v4: number; v6: number | null; name: string }>();
  private readonly ownOf = new Map<string, number[]>();
  private readonly ownV6Of = new Map<string, number[]>();
  private readonly staticOf = new Map<number, number[]>();
  private readonly tenantOf = new Map<string, number[]>();
  /** Tenants that already have their own first VM. */
  private readonly ownVm = new Set<string>();
  private awsPublic: number[] = [];

  private resolveDays(r: Rng): void {
    for (let i = 0; i < 16; i++) this.awsPublic.push(this.space.v4(r, AWS_PUBLIC_V4));
    const regionOf = new Map<string, (typeof CLOUD_REGIONS)[number]>();
    for (let day = 0; day < this.o.days; day++) {
      const b = this.book;
      // IoT domains.
      for (const d of this.domains) {
        const v4 = new Set<number>();
        const v6 = new Set<number>();
        switch (d.hosting) {
          case 'vm': {
            let reg = regionOf.get(d.regdom);
            if (!reg) regionOf.set(d.regdom, (reg = r.pick(CLOUD_REGIONS)));
            for (const inst of d.instances) {
              let vm = this.vmOf.get(inst);
              if (!vm || (d.churn && day > 0 && r.chance(0.5))) {
                if (vm) this.released.push({ addr: vm.v4, domain: d.key, lastDay: day - 1 });
                const a = this.space.v4(r, r.pick(reg.v4));
                const name = `ec2-${v4ToText(a).replaceAll('.', '-')}.${reg.region}.compute.amazonaws.com`;
                vm = { v4: a, v6: d.dual ? this.v6.intern(this.space.v6(r, reg.v6)) : null, name };
                this.vmOf.set(inst, vm);
              }
              b.add(inst, 'CNAME', vm.name, day);
              b.add(vm.name, 'A', v4ToText(vm.v4), day);
              v4.add(vm.v4);
              if (vm.v6 !== null) {
                b.add(vm.name, 'AAAA', this.v6.text(vm.v6), day);
                v6.add(vm.v6);
              }
            }
            break;
          }
          case 'own': {
            for (const inst of d.instances) {
              let as = this.ownOf.get(inst);
              if (!as) {
                as = Array.from({ length: 1 + r.int(3) }, () => this.space.v4(r, this.vendorBlock.get(d.regdom)!));
                this.ownOf.set(inst, as);
                if (d.dual)
                  this.ownV6Of.set(
                    inst,
                    as.map(() => this.v6.intern(this.space.v6(r, this.vendorV6.get(d.regdom)!))),
                  );
              }
              for (const a of as) {
                b.add(inst, 'A', v4ToText(a), day);
                v4.add(a);
              }
              for (const a of this.ownV6Of.get(inst) ?? []) {
                b.add(inst, 'AAAA', this.v6.text(a), day);
                v6.add(a);
              }
            }
            break;
          }
          case 'cdn':
            for (const inst of d.instances) this.cdnChain(inst, d.cdn!, day, d.dual, v4, v6);
            break;
          case 'cert':
          case 'hidden': {
            // Not in passive DNS: the addresses exist all the same (devices hard-code or resolve privately).
            let as = this.staticOf.get(d.index);
            if (!as)
              this.staticOf.set(
                d.index,
                (as = Array.from({ length: d.hosting === 'cert' ? 1 + r.int(3) : 1 + r.int(2) }, () => this.space.v4(r, r.pick(HOSTING_V4)))),
              );
            for (const a of as) v4.add(a);
            break;
          }
          case 'generic': {
            for (const inst of d.instances) {
              if (d.cdn) this.cdnChain(inst, d.cdn, day, d.dual, v4, v6);
              else {
                const k = hashString(inst) % this.awsPublic.length;
                for (const a of [this.awsPublic[k]!, this.awsPublic[(k + 5) % this.awsPublic.length]!]) {
                  b.add(inst, 'A', v4ToText(a), day);
                  v4.add(a);
                }
              }
            }
            break;
          }
        }
        d.v4[day] = [...v4];
        d.v6[day] = [...v6];
      }
      // Cloud addresses IoT VMs gave up at least two days ago: each goes, with some chance a
      // day, to a tenant drawn uniformly — most tenants are unpopular, a few are not, so a
      // few reused addresses attract a lot of unrelated traffic (false positive bait).
      const tenants = this.services.filter((s) => s.kind === 'tenant');
      for (let i = 0; i < this.released.length;) {
        const x = this.released[i]!;
        if (x.lastDay <= day - 2 && r.chance(0.3)) {
          const t = r.pick(tenants);
          let as = this.tenantOf.get(t.name);
          if (!as) this.tenantOf.set(t.name, (as = []));
          as.push(x.addr);
          this.reused.push({ address: v4ToText(x.addr), domain: x.domain, lastIotDay: x.lastDay, tenantFrom: day, tenant: t.name });
          this.released.splice(i, 1);
        } else i++;
      }
      // Generic names.
      const perCdn = new Map<string, number>();
      for (const s of this.services) {
        const v4 = new Set<number>();
        const v6 = new Set<number>();
        const cdn = s.cdn;
        if (cdn) {
          // Generic names on a CDN cover its edges round-robin, so every edge an IoT domain
          // lands on also serves unrelated names that day (docs/method.md: an edge is shared).
          const j = perCdn.get(cdn) ?? 0;
          perCdn.set(cdn, j + 1);
          this.cdnChain(s.name, cdn, day, true, v4, v6, j);
        } else if (s.kind === 'tenant') {
          let as = this.tenantOf.get(s.name);
          if (!as) this.tenantOf.set(s.name, (as = []));
          if (as.length === 0 || !this.ownVm.has(s.name)) {
            as.unshift(this.space.v4(r, r.pick(r.pick(CLOUD_REGIONS).v4)));
            this.ownVm.add(s.name);
          }
          for (const a of as) {
            const vm = `ec2-${v4ToText(a).replaceAll('.', '-')}.${regionOfAddress(a)}.compute.amazonaws.com`;
            this.book.add(s.name, 'CNAME', vm, day);
            this.book.add(vm, 'A', v4ToText(a), day);
            v4.add(a);
          }
        } else if (s.kind === 'ntp') {
          // Pool servers rotate daily.
          for (let i = 0; i < 4; i++) {
            const a = this.space.v4(r, r.pick(HOSTING_V4));
            this.book.add(s.name, 'A', v4ToText(a), day);
            v4.add(a);
          }
        } else if (s.kind === 'aws') {
          const k = hashString(s.name) % this.awsPublic.length;
          for (const a of [this.awsPublic[k]!, this.awsPublic[(k + 3) % this.awsPublic.length]!]) {
            this.book.add(s.name, 'A', v4ToText(a), day);
            v4.add(a);
          }
        }
        s.v4[day] = [...v4];
        s.v6[day] = [...v6];
      }
      // Records the hitlist must ignore (other types), as real feeds carry them.
      for (const rd of [...new Set(this.domains.map((d) => d.regdom))].slice(0, 40)) {
        this.book.add(rd, 'NS', `ns1.${rd}`, day);
        this.book.add(rd, 'TXT', `"v=spf1 -all"`, day);
      }
    }
  }

  /** A name on a CDN: akamai `name → name.edgekey.net → eN.a.akamaiedge.net → edges`, others `name → dX.cloudfront.net …`. */
  private cdnChain(name: string, cdn: string, day: number, dual: boolean, v4: Set<number>, v6: Set<number>, slot?: number): void {
    const pool = this.cdns.get(cdn)!;
    const h = hashString(name);
    const b = this.book;
    let edge: string;
    if (cdn === 'akamai') {
      const mid = `${name}.edgekey.net`;
      edge = `e${h % 9000}.a.akamaiedge.net`;
      b.add(name, 'CNAME', mid, day);
      b.add(mid, 'CNAME', edge, day);
    } else if (cdn === 'cloudfront') {
      edge = `d${h.toString(36)}${(h >>> 7).toString(36)}.cloudfront.net`;
      b.add(name, 'CNAME', edge, day);
    } else if (cdn === 'fastly') {
      edge = `dualstack.${name.split('.')[1]}.map.fastly.net`;
      b.add(name, 'CNAME', edge, day);
    } else edge = name;
    const n = pool.v4.length;
    const count = 3;
    // Generic names take consecutive slots (full coverage); IoT names hash to theirs. Edges rotate daily.
    const base = slot !== undefined ? slot * count : h % n;
    for (let i = 0; i < count; i++) {
      const e = (base + i + day * 5) % n;
      b.add(edge, 'A', v4ToText(pool.v4[e]!), day);
      v4.add(pool.v4[e]!);
      if (dual) {
        b.add(edge, 'AAAA', this.v6.text(pool.v6[e]!), day);
        v6.add(pool.v6[e]!);
      }
    }
  }

  // ---- certificates ---------------------------------------------------------

  private scanCertificates(r: Rng): void {
    const o = this.o;
    const fp = (s: string) => createHash('sha256').update(`${o.seed}|${s}`).digest('hex');
    const banner = (s: string) => 'sha256:' + createHash('sha256').update(`banner|${s}`).digest('hex');
    const iso = (t: number) => new Date(t * 1000).toISOString().replace('.000Z', 'Z');
    const hostLine = (ip: string, day: number, services: object[]) => {
      this.certs.push({ ip, services, last_updated_at: iso(o.day0 + day * 86400 + Math.floor(r.float() * 86400)) });
    };
    const tlsService = (port: number, f: string, names: string[], ban: string) => ({
      port,
      service_name: port === 443 ? 'HTTP' : 'UNKNOWN',
      transport_protocol: 'TCP',
      banner_hashes: [ban],
      tls: { certificates: { leaf_fp_sha256: f, leaf_data: { names } } },
    });
    // Certificates of the IoT services (cert-only domains are found this way alone).
    for (const d of this.domains) {
      if (d.hosting === 'generic' || d.hosting === 'cdn') continue;
      let names = [...d.instances];
      if (d.hosting === 'hidden') {
        // Half have a certificate naming an unrelated site too (shared hosting): rejected.
        if (r.chance(0.5)) continue;
        names = [...names, `www.hosting${d.index}.example-shop.com`];
      } else if (d.hosting !== 'cert' && !r.chance(0.5)) continue;
      const f = fp(`iot|${d.key}`);
      this.certs.push({ fingerprint_sha256: f, names });
      const tcpPorts = [...new Set(d.ports.map((p) => p.port))];
      for (let day = 0; day < o.days; day++) {
        for (const a of d.v4[day]!)
          hostLine(
            v4ToText(a),
            day,
            tcpPorts.map((p) => tlsService(p, f, names, banner(`${f}|${p}`))),
          );
      }
    }
    // CDN edges present one certificate with many customers' names (never qualifies).
    for (const pool of this.cdns.values()) {
      const customers = this.services
        .filter((s) => s.cdn === pool.id)
        .slice(0, 30)
        .map((s) => s.name);
      const iot = this.domains.filter((d) => d.cdn === pool.id).flatMap((d) => d.instances);
      const names = [...customers, ...iot];
      const f = fp(`cdn|${pool.id}`);
      this.certs.push({ fingerprint_sha256: f, names });
      for (let day = 0; day < o.days; day++) for (const a of pool.v4) hostLine(v4ToText(a), day, [tlsService(443, f, names, banner(pool.id))]);
    }
    // Cloud tenants, each with its own certificate.
    for (const s of this.services) {
      if (s.kind !== 'tenant') continue;
      const f = fp(`tenant|${s.name}`);
      for (let day = 0; day < o.days; day++) for (const a of s.v4[day]!) hostLine(v4ToText(a), day, [tlsService(443, f, [s.name], banner(s.name))]);
    }
  }
}

/** Concrete names for a dictionary entry: exact names, wildcard and numbered-family instances. */
function instantiate(patterns: readonly NamePattern[], r: Rng): string[] {
  const out: string[] = [];
  for (const p of patterns) {
    if (p.kind === 'exact') out.push(p.text);
    else if (p.kind === 'wildcard') {
      const n = 1 + r.int(2);
      for (let i = 0; i < n; i++) out.push(`${r.pick(['dev', 'node', 'frontdoor', 'edge', 'gw'])}${1 + r.int(40)}.${p.suffix}`);
    } else {
      const n = 1 + r.int(3);
      const used = new Set<number>();
      for (let i = 0; i < n; i++) {
        const k = 1 + r.int(40);
        if (used.has(k)) continue;
        used.add(k);
        out.push(p.text.replaceAll('{n}', String(k)));
      }
    }
  }
  return [...new Set(out)];
}

function regionOfAddress(a: number): string {
  const t = v4ToText(a);
  for (const c of CLOUD_REGIONS) for (const p of c.v4) if (inV4(a, p)) return c.region;
  return t.startsWith('3.') ? 'eu-central-1' : 'eu-west-1';
}

function inV4(a: number, prefix: string): boolean {
  const [base, bits] = prefix.split('/') as [string, string];
  const p = base.split('.').map(Number);
  const b = ((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0;
  const size = 2 ** (32 - Number(bits));
  return a >= b && a < b + size;
}

/**
 * Passive DNS aggregation as DNSDB does it: one record per (name, type, data) and stretch of
 * consecutive days it was seen, with first and last sighting.
 */
class PdnsBook {
  private readonly open = new Map<string, PdnsEntry>();
  private readonly done: PdnsEntry[] = [];
  private seq = 0;

  add(rrname: string, rrtype: PdnsEntry['rrtype'], rdata: string, day: number): void {
    const k = `${rrname}\t${rrtype}\t${rdata}`;
    const e = this.open.get(k);
    if (e) {
      if (e.last === day) return;
      if (e.last === day - 1) {
        e.last = day;
        return;
      }
      this.done.push(e);
    }
    this.open.set(k, { rrname, rrtype, rdata, first: day, last: day, seq: this.seq++ });
  }

  flush(out: PdnsEntry[]): void {
    const all = [...this.done, ...this.open.values()].sort((a, b) => a.seq - b.seq);
    this.open.clear();
    this.done.length = 0;
    out.push(...all);
  }
}

/**
 * COF JSON lines for the entries: first sighting in the first six hours of the first day,
 * last in the last six of the last (never spilling into neighbouring days, which would
 * stretch the record over days it did not resolve), DNSDB-style trailing dots.
 */
export function pdnsLines(w: DnsWorld, seed: number): string[] {
  const r = new Rng(seed, 'pdns-times');
  return w.pdns.map((e) => {
    const t1 = w.o.day0 + e.first * 86400 + Math.floor(r.float() * 6 * 3600);
    const t2 = w.o.day0 + e.last * 86400 + 18 * 3600 + Math.floor(r.float() * 6 * 3600 - 1);
    const dot = (n: string) => (n.endsWith('.') ? n : `${n}.`);
    const rdata = e.rrtype === 'CNAME' || e.rrtype === 'NS' ? dot(e.rdata) : e.rdata;
    const count = Math.max(1, Math.round((e.last - e.first + 1) * r.logUniform(3, 3000)));
    return JSON.stringify({
      count,
      time_first: t1,
      time_last: t2,
      rrname: dot(e.rrname),
      rrtype: e.rrtype,
      bailiwick: dot(e.rrname.split('.').slice(-2).join('.')),
      rdata: [rdata],
    });
  });
}

/**
 * The same DNS world as a resolver would log it (dnstap CLIENT_RESPONSE messages, as
 * fstrm_capture writes them): each record answered once on every day it was live, at a
 * moment in that day. `haystack pdns import` of it gives the hitlist what pdns.jsonl gives.
 */
export async function writeDnstap(w: DnsWorld, seed: number, path: string): Promise<number> {
  const r = new Rng(seed, 'dnstap-times');
  const out = DnstapFileWriter.create(path);
  const dayMs = 86_400_000;
  for (const e of w.pdns) {
    if (e.rrtype !== 'A' && e.rrtype !== 'AAAA' && e.rrtype !== 'CNAME') continue;
    const qtype = e.rrtype === 'AAAA' ? 'AAAA' : 'A';
    for (let d = e.first; d <= e.last; d++) {
      const t = (w.o.day0 + d * 86400) * 1000 + Math.floor(r.float() * dayMs);
      await out.response(t, e.rrname, qtype, [{ name: e.rrname, type: e.rrtype, data: e.rdata }]);
    }
  }
  await out.close();
  return out.messages;
}
