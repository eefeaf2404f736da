import { Option, type Command } from 'commander';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { openStore } from '@haystack/store';
import { configSchema, type HaystackConfig, type Logger } from '@haystack/common';
import { type DetectorStats } from '@haystack/detector';
import { SHIPPED_RULES_DIR } from '@haystack/rules';
import { queryReportData, renderHtml, renderText } from '@haystack/report';
import { backendsOptions, runBuildCommand } from '@haystack/hitlist';
import { captureId } from '@haystack/ingest';
import { replayIntoStore } from '@haystack/pipeline';
import { simulate } from '@haystack/simulator';
import { day, positiveInt, writableDir } from '../args.js';
import { replayProgress } from '../progress.js';
import { action, runtime } from '../runtime.js';

export interface DemoOptions {
  out: string;
  seed: number;
  lines: number;
  sampling: number;
  day: string;
  rulesDir: string;
  /** > 0: the IXP case: an exchange with this many member networks, sFlow from the fabric. */
  ixpMembers?: number;
  /** What the exchange's fabric exports (default sFlow). */
  ixpExport?: 'sflow' | 'ipfix';
}

export interface DemoResult {
  day: string;
  simDir: string;
  report: string;
  detector: DetectorStats;
  records: number;
}

/**
 * The main job on embedded defaults, end to end: a simulated ISP day (load-test world),
 * that day's hitlist from the generated passive DNS and certificates, the generated exports
 * replayed through ingest and the detector (in-process bus, hitlist day files, chdb), and the
 * daily report. Everything lives under `out`.
 */
export async function runDemo(o: DemoOptions, base: HaystackConfig, log: Logger, say: (s: string) => void): Promise<DemoResult> {
  const simDir = join(o.out, 'simulation');
  const stateDir = join(o.out, 'state');
  const ixp = (o.ixpMembers ?? 0) > 0;
  say(
    ixp
      ? `simulating an exchange of ${o.ixpMembers} member networks with ${o.lines} hosts behind them for ${o.day} (${o.ixpExport === 'ipfix' ? 'IPFIX' : 'sFlow'} 1:${o.sampling}, seed ${o.seed}) into ${simDir}`
      : `simulating ${o.lines} subscriber lines for ${o.day} (sampling 1:${o.sampling}, seed ${o.seed}) into ${simDir}`,
  );
  const sim = await simulate(
    {
      seed: o.seed,
      lines: o.lines,
      days: 1,
      startDay: o.day,
      sampling: [o.sampling],
      rulesDir: o.rulesDir,
      ixpMembers: o.ixpMembers ?? 0,
      ixpExport: o.ixpExport ?? 'sflow',
    },
    { dir: simDir },
  );
  say(
    `  ${sim.records.toLocaleString('en-US')} flow records from ${sim.exporters.length} exporters, ${sim.devices} devices on ${sim.lines} lines (truth: ${join(simDir, 'truth.csv')})`,
  );

  // The pipeline's configuration: embedded everywhere, subscriber space of the simulated ISP.
  const config: HaystackConfig = configSchema.parse({
    ...base,
    stateDir,
    metrics: { listen: null },
    ingest: { ...base.ingest, subscriberPrefixes: ['100.64.0.0/10', '2001:db8::/32'], templates: { persist: 'none', flushIntervalMs: 5000 } },
    // The IXP: no lines; hosts attributed to members by the published member export (and routes).
    ...(ixp
      ? { deployment: 'ixp', ixp: { memberExport: join(simDir, 'ixf-members.json'), routeTable: join(simDir, 'routes.pfx2as'), hostPrefixLength6: 64 } }
      : {}),
    kafka: { ...base.kafka, brokers: [] },
    redis: { ...base.redis, url: null },
    clickhouse: { ...base.clickhouse, url: null },
    detector: { ...base.detector, rulesDir: o.rulesDir },
    // Where the simulated backends live: the simulation's own address plan, written as dataset
    // copies (as an operator points backends.* at newer ones); the operator sits in Germany.
    backends: {
      ...base.backends,
      asn: join(simDir, 'datasets', 'asn'),
      country: join(simDir, 'datasets', 'country'),
      providers: join(simDir, 'datasets', 'providers'),
      homeCountry: base.backends.homeCountry ?? 'DE',
    },
  });

  say(`building the hitlist of ${o.day}`);
  await runBuildCommand(
    {
      day: o.day,
      pdns: [join(simDir, 'pdns.jsonl')],
      certs: [join(simDir, 'certs.jsonl')],
      rulesDir: o.rulesDir,
      stateDir,
      policy: {},
      publish: false,
      activate: false,
      history: true,
      redis: config.redis,
      clickhouse: config.clickhouse,
      json: false,
      backends: backendsOptions(config),
      log,
    },
    (s) =>
      say(
        s
          .trimEnd()
          .split('\n')
          .map((l) => `  ${l}`)
          .join('\n'),
      ),
  );

  say('replaying the exports through ingest and the detector');
  // Storage stays open after the pipeline stops: the report is read from it.
  const ch = await openStore(config);
  const exports = join(simDir, 'exports.pcap');
  const bar = replayProgress('replay');
  try {
    const t0 = performance.now();
    const { result: res, pipeline: p } = await replayIntoStore({
      config,
      log,
      store: ch,
      file: exports,
      replayId: await captureId(exports),
      pipeline: { metrics: false },
      replay: { onProgress: bar.onProgress },
    });
    bar.stop();
    // End to end in one process: decode, publish, the in-process bus, detection, chdb inserts.
    const secs = (performance.now() - t0) / 1000;
    const stats: DetectorStats = p.detector!.stats();
    if (res.alreadyStored > 0 && res.datagrams === 0)
      say(
        `  the ${res.alreadyStored.toLocaleString('en-US')} export datagrams of this capture were stored by an earlier run: they count once, so nothing is new and the report below is unchanged`,
      );
    else
      say(
        `  ${res.datagrams.toLocaleString('en-US')} datagrams, ${stats.flows.toLocaleString('en-US')} flows, ${stats.matched.toLocaleString('en-US')} matched the hitlist, ${stats.detections.day} daily detections (+${stats.impliedDetections} implied); ` +
          `${secs.toFixed(1)} s end to end (${Math.round(stats.flows / Math.max(secs, 1e-9)).toLocaleString('en-US')} flows/s)`,
      );
    const data = await queryReportData(ch, o.day, { homeCountry: config.backends.homeCountry });
    const dir = join(stateDir, 'reports', o.day);
    await mkdir(dir, { recursive: true });
    const report = join(dir, 'report.html');
    await writeFile(report, renderHtml(data));
    await writeFile(join(dir, 'report.txt'), renderText(data));
    say(renderText(data));
    return { day: o.day, simDir, report, detector: stats, records: sim.records };
  } finally {
    bar.stop();
    await ch.close();
  }
}

export function registerDemoCommands(program: Command): void {
  program
    .command('demo')
    .description(
      'the main job end to end on embedded defaults: simulate an ISP day, build its hitlist, replay its exports through ingest and detection, write the daily report (prints the HTML report path last)',
    )
    .option('--out <dir>', 'where everything goes (default <stateDir>/demo)')
    .option('--lines <n>', 'subscriber lines to simulate', positiveInt, 2000)
    .option('--sampling <n>', '1:N packet sampling at the simulated routers', positiveInt, 100)
    .option('--seed <n>', 'simulation seed (same seed, same bytes)', positiveInt, 1)
    .option('--day <YYYY-MM-DD>', 'the simulated day', day, '2026-11-20')
    .option('--rules <dir>', 'IoT dictionary (default: the rules/ shipped with Haystack)')
    .option('--ixp [members]', 'the IXP case instead: an exchange with this many member networks (default 8), sFlow from the fabric, the report per member')
    .addOption(new Option('--ixp-export <protocol>', 'with --ixp: what the fabric exports').choices(['sflow', 'ipfix']).default('sflow'))
    .action(
      action(
        async (
          opts: {
            out?: string;
            lines: number;
            sampling: number;
            seed: number;
            day: string;
            rules?: string;
            ixp?: string | boolean;
            ixpExport: 'sflow' | 'ipfix';
          },
          cmd: Command,
        ) => {
          const { config, log } = runtime(cmd);
          const out = resolve(opts.out ?? join(config.stateDir, 'demo'));
          writableDir(out, '--out');
          const rulesDir = opts.rules ? resolve(opts.rules) : SHIPPED_RULES_DIR;
          const ixpMembers = opts.ixp === undefined || opts.ixp === false ? 0 : opts.ixp === true ? 8 : positiveInt(opts.ixp);
          // The demo narrates its own steps on stdout: its components' routine (info) logs would
          // only interleave with them; warnings and errors still show (a lower log.level asks for more).
          const quiet = config.log.level === 'info' ? log.child({}, { level: 'warn' }) : log;
          const res = await runDemo(
            { out, seed: opts.seed, lines: opts.lines, sampling: opts.sampling, day: opts.day, rulesDir, ixpMembers, ixpExport: opts.ixpExport },
            config,
            quiet,
            (s) => process.stdout.write(`${s}\n`),
          );
          // Its state lives under --out: the next commands must look there.
          const env = `HAYSTACK_STATE_DIR=${join(out, 'state')}`;
          process.stdout.write(
            `next, on this demo's data:\n  ${env} npx haystack report --day ${opts.day}\n  ${env} npx haystack hitlist show --day ${opts.day}\n` +
              `  ${env}${ixpMembers ? ' HAYSTACK_DEPLOYMENT=ixp' : ''} npx haystack console    # then open ${consoleUrl(config)}/day/${opts.day}\n` +
              `the HTML report:\n${res.report}\n`,
          );
        },
      ),
    );
}

/** Where `haystack console` will serve (console.listen; the default when it is off here). */
function consoleUrl(config: HaystackConfig): string {
  return `http://${config.console.listen ?? '127.0.0.1:8470'}`;
}
