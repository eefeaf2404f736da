import { InvalidArgumentError, Option, type Command } from 'commander';
import { SHIPPED_RULES_DIR } from '@haystack/rules';
import { day, writableDir } from '../args.js';
import { resolve } from 'node:path';
import { simulate } from '@haystack/simulator';
import { action, runtime, UserError } from '../runtime.js';

/** `haystack simulate`: a simulated ISP (load-test/src/sim, see its README). */
interface SimulateFlags {
  out: string;
  dnstap?: boolean;
  ixpMembers: number;
  ixpExport: 'sflow' | 'ipfix';
  seed: number;
  lines: number;
  days: number;
  hours?: number;
  startDay: string;
  sampling: string;
  samplingMode: string;
  exporters: number;
  protocol: string;
  ipv6Share: number;
  activeTimeout: number;
  inactiveTimeout: number;
  penetrationScale: number;
  background: number;
  strayRate: number;
  rules?: string;
  udp?: string;
  rate: number;
  json?: boolean;
}

const int = (name: string) => (v: string) => {
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError(`${name} must be a whole number.`);
  return Number(v);
};
const num = (name: string) => (v: string) => {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a number.`);
  return n;
};

export function registerSimulateCommands(program: Command): void {
  program
    .command('simulate')
    .description(
      'Simulate an ISP: subscriber lines with IoT devices (the classes of rules/), background traffic, sampling routers ' +
        'exporting NetFlow v9 / IPFIX, and the passive DNS and certificate scans behind it. Writes DIR/exports.pcap, ' +
        'DIR/pdns.jsonl (COF), DIR/certs.jsonl (Censys-style), DIR/truth.csv (which line hosts which classes), DIR/lines.csv, ' +
        'DIR/strays.csv, DIR/world.json and DIR/haystack.yaml (for `haystack -c DIR/haystack.yaml ...`). ' +
        'The same seed writes the same bytes.',
    )
    .requiredOption('--out <dir>', 'output directory')
    .option('--seed <n>', 'random seed', int('--seed'), 1)
    .option('--lines <n>', 'subscriber lines', int('--lines'), 2000)
    .option('--days <n>', 'simulated days (after the passive-DNS look-back window)', int('--days'), 1)
    .option('--hours <n>', 'simulate this many hours instead of whole days', int('--hours'))
    .option('--start-day <YYYY-MM-DD>', 'first simulated day (UTC)', day, '2026-11-20')
    .option('--sampling <n[,n...]>', '1:N packet sampling, one rate per exporter (cycled)', '1000')
    .option('--sampling-mode <mode>', 'random | deterministic', 'random')
    .option('--exporters <n>', 'routers exporting flows, each serving a slice of the lines', int('--exporters'), 3)
    .option('--protocol <p>', 'v9 | ipfix | mixed (exporters alternate export styles)', 'mixed')
    .option('--ipv6-share <x>', 'share of lines with an IPv6 /56', num('--ipv6-share'), 0.3)
    .option('--active-timeout <s>', 'flow cache active timeout, seconds', int('--active-timeout'), 60)
    .option('--inactive-timeout <s>', 'flow cache inactive timeout, seconds', int('--inactive-timeout'), 15)
    .option('--penetration-scale <x>', 'multiply every class penetration', num('--penetration-scale'), 1)
    .option('--background <x>', 'scale generic background traffic', num('--background'), 1)
    .option('--stray-rate <x>', 'per line and day: chance of an IoT domain contact without the device', num('--stray-rate'), 0.005)
    .option('--rules <dir>', 'IoT dictionary directory (default: the rules/ shipped with Haystack)')
    .option('--udp <host:port>', 'send the exports to a collector on this machine instead of writing exports.pcap')
    .option('--rate <records/s>', 'with --udp: target flow records per second (0 = as fast as possible)', num('--rate'), 0)
    .option(
      '--ixp-members <n>',
      'an internet exchange instead of an ISP: hosts behind this many member networks, sFlow from the fabric, an IX-F member export',
      int('--ixp-members'),
      0,
    )
    .addOption(
      new Option('--ixp-export <protocol>', "with --ixp-members: what the fabric exports (IPFIX carries the member routers' MACs as fields)")
        .choices(['sflow', 'ipfix'])
        .default('sflow'),
    )
    .option('--dnstap', "also write the DNS world as a resolver's dnstap feed (pdns.dnstap), for `haystack pdns import`")
    .option('--json', 'print the summary as JSON')
    .action(
      action(async (opts: SimulateFlags, cmd: Command) => {
        const { log } = runtime(cmd);
        const sampling = opts.sampling.split(',').map((x) => int('--sampling')(x.trim()));
        const mode = opts.samplingMode;
        if (mode !== 'random' && mode !== 'deterministic') throw new UserError('--sampling-mode must be random or deterministic', 2);
        const protocol = opts.protocol;
        if (protocol !== 'v9' && protocol !== 'ipfix' && protocol !== 'mixed') throw new UserError('--protocol must be v9, ipfix or mixed', 2);
        let udp: { host: string; port: number; rate: number } | undefined;
        if (opts.udp !== undefined) {
          const m = /^(.*):(\d+)$/.exec(opts.udp);
          if (!m) throw new UserError('--udp must be HOST:PORT', 2);
          udp = { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]), rate: opts.rate };
        } else if (opts.rate > 0) throw new UserError('--rate needs --udp', 2);
        const dir = resolve(opts.out);
        writableDir(dir, '--out');
        const t0 = performance.now();
        const summary = await simulate(
          {
            seed: opts.seed,
            lines: opts.lines,
            days: opts.days,
            hours: opts.hours ?? null,
            startDay: opts.startDay,
            sampling,
            samplingMode: mode,
            exporters: opts.exporters,
            protocol,
            ipv6Share: opts.ipv6Share,
            activeTimeoutS: opts.activeTimeout,
            inactiveTimeoutS: opts.inactiveTimeout,
            penetrationScale: opts.penetrationScale,
            background: opts.background,
            strayRate: opts.strayRate,
            rulesDir: opts.rules ? resolve(opts.rules) : SHIPPED_RULES_DIR,
            ixpMembers: opts.ixpMembers,
            ixpExport: opts.ixpExport,
          },
          {
            dir,
            udp,
            dnstap: opts.dnstap ?? false,
            onHour: (h, hours) => {
              if ((h + 1) % 6 === 0 || h + 1 === hours) log.info({ hour: h + 1, hours }, 'simulated');
            },
          },
        );
        const seconds = (performance.now() - t0) / 1000;
        if (opts.json) {
          process.stdout.write(`${JSON.stringify({ ...summary, seconds: Number(seconds.toFixed(2)) }, null, 2)}\n`);
          return;
        }
        const out = [
          `simulated ${summary.lines} lines (${summary.dualStackLines} dual-stack) with ${summary.devices} IoT devices in ${seconds.toFixed(1)} s`,
          `exports: ${summary.records} flow records in ${summary.messages} datagrams${udp ? ` sent to ${udp.host}:${udp.port}` : ''}`,
          ...summary.exporters.map((e) => `  exporter ${e.index}: ${e.records} records, ${e.messages} datagrams, ${e.sampledPackets} sampled packets`),
          `passive DNS: ${summary.pdnsRecords} records; certificate scans: ${summary.certRecords} lines; truth: ${summary.truthRows} rows; strays: ${summary.strays}`,
          `files in ${summary.dir}: ${summary.files.join(', ')}`,
        ];
        process.stdout.write(`${out.join('\n')}\n`);
      }),
    );
}
