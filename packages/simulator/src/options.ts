/** Everything that shapes a simulated ISP. `resolveOptions` fills defaults and validates. */
export interface SimOptions {
  seed: number;
  /** Subscriber lines (each one public IPv4 address behind NAT). */
  lines: number;
  /** Simulated days (flows), after the passive-DNS look-back window. */
  days: number;
  /** Simulated hours instead of whole days (tests and quick runs); null = days × 24. */
  hours: number | null;
  /** First simulated day, UTC (YYYY-MM-DD). A fixed default: never the clock. */
  startDay: string;
  /** 1:N packet sampling per exporter, cycled over the exporters. */
  sampling: number[];
  samplingMode: 'random' | 'deterministic';
  exporters: number;
  protocol: 'v9' | 'ipfix' | 'mixed';
  /** Share of lines that also have an IPv6 /56. */
  ipv6Share: number;
  activeTimeoutS: number;
  inactiveTimeoutS: number;
  /** Subscriber IPv4 space and IPv6 space the line prefixes come from. */
  v4Prefix: string;
  v6Prefix: string;
  /** IPv6 line prefix length (the detector's line for IPv6). */
  v6LineBits: number;
  rulesDir: string;
  /** Days of passive DNS before the first simulated day; null = the rules' policy.lookbackDays. */
  lookbackDays: number | null;
  /** Multiplies every class's penetration. */
  penetrationScale: number;
  /** Per-class penetration overrides (share of lines owning at least one unit). */
  penetration: Record<string, number>;
  /** Scales generic background traffic (web, video, NTP). */
  background: number;
  /** Per line and day: chance that a line without a device contacts an IoT domain (companion apps, web dashboards). */
  strayRate: number;
  /** Share of dedicated cloud-VM instances whose address can move from one day to the next. */
  churnShare: number;
  /** Share of devices installed during the simulated period (the rest run from the start). */
  newDeviceShare: number;
  /** Templates and sampler options are resent every this many messages or seconds, whichever first. */
  templateRefreshMessages: number;
  templateRefreshSeconds: number;
  /** Largest export datagram payload. */
  maxMessageBytes: number;
  /**
   * > 0: an internet exchange instead of an ISP: the lines are hosts behind this many member
   * networks, the exporters are the fabric's sFlow agents (ixp.ts). 0: the ISP.
   */
  ixpMembers: number;
  /** What the exchange's fabric exports: sFlow v5 (most IXPs) or IPFIX with the member routers' MACs. */
  ixpExport: 'sflow' | 'ipfix';
}

export const DEFAULT_OPTIONS: SimOptions = {
  seed: 1,
  lines: 2000,
  days: 1,
  hours: null,
  startDay: '2026-11-20',
  sampling: [1000],
  samplingMode: 'random',
  exporters: 3,
  protocol: 'mixed',
  ipv6Share: 0.3,
  activeTimeoutS: 60,
  inactiveTimeoutS: 15,
  v4Prefix: '100.64.0.0/10',
  v6Prefix: '2001:db8::/32',
  v6LineBits: 56,
  rulesDir: './rules',
  lookbackDays: null,
  penetrationScale: 1,
  penetration: {},
  background: 1,
  strayRate: 0.005,
  churnShare: 0.3,
  newDeviceShare: 0.05,
  templateRefreshMessages: 64,
  templateRefreshSeconds: 600,
  maxMessageBytes: 1400,
  ixpMembers: 0,
  ixpExport: 'sflow',
};

export class SimOptionsError extends Error {
  readonly userFacing = true;
  readonly exitCode = 2;
}

const DAY_RE = /^\d{4}-\d{2}-\d{2}$/;

export function resolveOptions(partial: Partial<SimOptions> = {}): SimOptions {
  const o: SimOptions = { ...DEFAULT_OPTIONS, ...stripUndefined(partial) };
  const bad = (m: string): never => {
    throw new SimOptionsError(m);
  };
  const int = (k: keyof SimOptions, lo: number, hi: number) => {
    const v = o[k] as number;
    if (!Number.isInteger(v) || v < lo || v > hi) bad(`${k} must be an integer from ${lo} to ${hi}, got ${v}`);
  };
  const share = (k: keyof SimOptions) => {
    const v = o[k] as number;
    if (!(v >= 0 && v <= 1)) bad(`${k} must be between 0 and 1, got ${v}`);
  };
  int('seed', 0, 0xffffffff);
  int('lines', 1, 4_000_000);
  // Exporter uptimes start up to 20 days before the first day and must not wrap 2^32 ms (49.7 days).
  int('days', 1, 28);
  if (o.hours !== null) int('hours', 1, 28 * 24);
  if (!DAY_RE.test(o.startDay) || Number.isNaN(Date.parse(`${o.startDay}T00:00:00Z`))) bad(`startDay must be YYYY-MM-DD, got ${o.startDay}`);
  if (o.sampling.length === 0 || o.sampling.some((n) => !Number.isInteger(n) || n < 1 || n > 1_000_000))
    bad(`sampling rates must be integers from 1 to 1000000, got ${o.sampling.join(',')}`);
  if (o.samplingMode !== 'random' && o.samplingMode !== 'deterministic') bad(`samplingMode must be random or deterministic`);
  int('exporters', 1, 64);
  if (!['v9', 'ipfix', 'mixed'].includes(o.protocol)) bad(`protocol must be v9, ipfix or mixed`);
  share('ipv6Share');
  share('strayRate');
  share('churnShare');
  share('newDeviceShare');
  int('activeTimeoutS', 1, 3600);
  int('inactiveTimeoutS', 1, 600);
  int('v6LineBits', 33, 64);
  if (o.lookbackDays !== null) int('lookbackDays', 1, 31);
  int('ixpMembers', 0, 1000);
  if (o.ixpExport !== 'sflow' && o.ixpExport !== 'ipfix') bad('ixpExport must be sflow or ipfix');
  if (!(o.penetrationScale >= 0)) bad('penetrationScale must be ≥ 0');
  for (const [k, v] of Object.entries(o.penetration)) if (!(v >= 0 && v <= 1)) bad(`penetration of ${k} must be between 0 and 1, got ${v}`);
  if (!(o.background >= 0)) bad('background must be ≥ 0');
  int('templateRefreshMessages', 1, 1_000_000);
  int('templateRefreshSeconds', 1, 86_400);
  int('maxMessageBytes', 256, 65_000);
  if (!/^[\d.]+\/\d+$/.test(o.v4Prefix)) bad(`v4Prefix must be an IPv4 prefix, got ${o.v4Prefix}`);
  if (!/^[0-9a-f:]+\/32$/i.test(o.v6Prefix)) bad(`v6Prefix must be an IPv6 /32, got ${o.v6Prefix}`);
  return o;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Hours simulated. */
export function simHours(o: SimOptions): number {
  return o.hours ?? o.days * 24;
}
