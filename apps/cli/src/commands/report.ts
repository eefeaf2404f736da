import { Option, type Command } from 'commander';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ClickHouseBusyError, openClickHouse } from '@haystack/clickhouse';
import { fetchReport, fetchWhatIf, runningConsole } from '@haystack/console';
import { whatIf } from '@haystack/store';
import { clickHouseOptions, type HaystackConfig, type Logger } from '@haystack/common';
import {
  FIXTURE_DAY,
  queryReportData,
  reportFixture,
  type ReportData,
  BACKENDS_CSV_COLUMNS,
  CSV_COLUMNS,
  renderBackendsCsv,
  fmtInt,
  fmtShare,
  qualityFindings,
  renderCsv,
  renderHtml,
  renderJson,
  renderText,
  backendsText,
} from '@haystack/report';
import { day } from '../args.js';
import { action, runtime, UserError } from '../runtime.js';

const FORMATS = ['text', 'json', 'csv', 'html', 'backends-csv'] as const;
type Format = (typeof FORMATS)[number];

/** Write through a temporary file and a rename, so a reader never sees half a report. */
function writeAtomic(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

const render: Record<Format, (d: ReportData) => string> = {
  text: renderText,
  json: renderJson,
  csv: renderCsv,
  html: renderHtml,
  'backends-csv': renderBackendsCsv,
};

const HELP_AFTER = `
Output:
  text  a terminal table (default): per level, each class's lines, share of active lines, change
        against the previous day and a 24-hour sparkline; the hitlist summary; data-quality warnings.
  json  the report data as stored (the ReportData contract of services/detector/src/report-data.ts).
  csv   one row per detectable class, RFC 4180 (CRLF, quoted fields; a text field starting with
        = + - @ is prefixed with ' so spreadsheets do not run it). Columns:
${CSV_COLUMNS.filter((c) => !/^h\d\d$/.test(c.name))
  .map((c) => `          ${c.name.padEnd(25)}${c.description}`)
  .join('\n')}
          ${'h00 .. h23'.padEnd(25)}lines detected within each UTC hour
  backends-csv  where the IoT traffic goes: one row per scope ("all", or a class), dimension and value:
${BACKENDS_CSV_COLUMNS.map((c) => `          ${c.name.padEnd(25)}${c.description}`).join('\n')}
  html  one self-contained page (inline CSS and SVG, no script, nothing fetched): headline numbers,
        bars per class and level, changes, hourly heatmap, hitlist, data quality. Without --out it
        goes to <stateDir>/reports/<D>/report.html.
  With --out, or for html, the file's path is printed as the last line.

Data comes from ClickHouse (embedded chdb under <stateDir>/chdb unless clickhouse.url is set):
the detector's daily and hourly detections, the hitlist history and the ingest health snapshots.
--fixture renders built-in example data instead (an ISP with 1.28 M active lines, 35 detectable
classes and one exporter with problems) to preview the report without any data.

Examples:
  haystack report --day 2026-11-20
  haystack report --day 2026-11-20 --format html
  haystack report --day 2026-11-20 --format csv --out /srv/reports/2026-11-20.csv
  haystack report --fixture --format html --out /tmp/preview.html
`;

/** The day's report data from ClickHouse, or through the console of the `haystack run` that holds the embedded store. */
async function readReport(config: HaystackConfig, day: string, log: Logger): Promise<ReportData> {
  let ch;
  try {
    ch = await openClickHouse(clickHouseOptions(config));
  } catch (e) {
    if (!(e instanceof ClickHouseBusyError)) throw e;
    const c = runningConsole(config);
    if (!c)
      throw new UserError(
        `${e.dataDir} is in use by another process (a running \`haystack run\`?) and no console of it answers: ` +
          'run it with console.listen set (the default) to read reports while it collects, or stop it first',
        1,
      );
    log.debug({ day, console: c.url, pid: c.pid }, 'the store is held by a running process: reading through its console');
    return fetchReport(c, day);
  }
  try {
    log.debug({ day, mode: ch.mode }, 'querying report data');
    return await queryReportData(ch, day, { homeCountry: config.backends.homeCountry });
  } finally {
    await ch.close();
  }
}

export function registerReportCommands(program: Command): void {
  program
    .command('report')
    .description("the day's detection report: lines per class and level, change against the previous day, hourly profile, hitlist summary, data quality")
    .option('--day <D>', 'report day (UTC, YYYY-MM-DD); required unless --fixture', day)
    .addOption(new Option('--format <format>', 'output format').choices(FORMATS).default('text'))
    .option('--out <file>', 'write the report to this file instead of stdout (html: instead of <stateDir>/reports/<D>/report.html)')
    .option('--fixture', `render built-in example data instead of querying ClickHouse (a preview; --day sets its date, default ${FIXTURE_DAY})`)
    .addHelpText('after', HELP_AFTER)
    .action(
      action(async (opts: { day?: string; format: Format; out?: string; fixture?: boolean }, cmd: Command) => {
        const { config, log } = runtime(cmd);
        if (!opts.day && !opts.fixture) throw new UserError('give --day YYYY-MM-DD (or --fixture for example data)', 2);

        let data: ReportData;
        if (opts.fixture) {
          data = reportFixture({ day: opts.day ?? FIXTURE_DAY });
        } else {
          const day = opts.day!;
          data = await readReport(config, day, log);
          // An empty report for a day nothing was stored for is a wrong state directory or day, not a result.
          if (data.quality.flowsTotal === 0 && data.lines.active === 0 && data.classes.every((c) => c.detectedLines === 0))
            throw new UserError(
              `nothing stored for ${day} in ${config.clickhouse.url ?? resolve(config.stateDir, 'chdb')}: no flows and no detections. ` +
                `Check the day, or the state directory (stateDir / HAYSTACK_STATE_DIR: ${resolve(config.stateDir)}); after \`haystack demo\`, use the command it printed.`,
              1,
            );
        }

        const text = render[opts.format](data);
        let path: string | null = opts.out ? resolve(opts.out) : null;
        if (!path && opts.format === 'html') path = resolve(config.stateDir, 'reports', data.day, 'report.html');
        if (!path) {
          process.stdout.write(text);
          return;
        }
        writeAtomic(path, text);
        const problems = qualityFindings(data).filter((f) => f.severity === 'problem').length;
        process.stdout.write(
          `report ${data.day}${opts.fixture ? ' (example data)' : ''}: ${fmtInt(data.lines.withAnyDetection)} of ${fmtInt(data.lines.active)} active lines ` +
            `(${fmtShare(data.lines.active ? data.lines.withAnyDetection / data.lines.active : NaN)}) with an IoT detection, ` +
            `${data.classes.filter((c) => c.detectedLines > 0).length} of ${data.classes.length} classes detected` +
            `${problems ? `, ${problems} data-quality problem${problems > 1 ? 's' : ''}` : ''}\n${path}\n`,
        );
      }),
    );
}

/** What an outage of `provider` (in `country`) would cut off on `day`: from ClickHouse, or through the running process's console. */
async function readWhatIf(config: HaystackConfig, day: string, provider: string, country: string | null): Promise<{ lines: number; classes: string[] }> {
  let ch;
  try {
    ch = await openClickHouse(clickHouseOptions(config));
  } catch (e) {
    if (!(e instanceof ClickHouseBusyError)) throw e;
    const c = runningConsole(config);
    if (!c) throw new UserError(`${e.dataDir} is in use by another process and no console of it answers`, 1);
    return fetchWhatIf(c, day, provider, country);
  }
  try {
    return await whatIf(ch, day, provider, country);
  } finally {
    await ch.close();
  }
}

export function registerBackendsCommands(program: Command): void {
  program
    .command('backends')
    .description(
      'where the IoT traffic of a day goes: providers, networks, countries and parties per class, the share leaving backends.homeCountry, and the lines that depend on one provider; --fail asks what an outage would cut off',
    )
    .requiredOption('--day <D>', 'the day (UTC, YYYY-MM-DD)', day)
    .option('--fail <provider[:CC]>', 'what if this provider (only its backends in country CC, when given) failed: the detected lines and classes cut off')
    .option('--json', 'print the figures (and the what-if) as JSON')
    .addHelpText(
      'after',
      `
Providers are the folders of backends.providers (bundled: amazon, google, microsoft, oracle,
digitalocean, linode, cloudflare, vultr). The figures need a hitlist built with backend data
(backends.enabled, the default) for the day. Aggregates only: never a line's destinations.

Examples:
  haystack backends --day 2026-11-20
  haystack backends --day 2026-11-20 --fail amazon
  haystack backends --day 2026-11-20 --fail amazon:DE --json
`,
    )
    .action(
      action(async (opts: { day: string; fail?: string; json?: boolean }, cmd: Command) => {
        const { config, log } = runtime(cmd);
        const data = await readReport(config, opts.day, log);
        let fail: { provider: string; country: string | null; lines: number; classes: string[] } | null = null;
        if (opts.fail) {
          const m = /^([A-Za-z0-9_.-]{1,64})(?::([A-Za-z]{2}))?$/.exec(opts.fail);
          if (!m) throw new UserError(`--fail ${JSON.stringify(opts.fail)}: expected a provider id, optionally with a country (amazon, amazon:DE)`, 2);
          const country = m[2] ? m[2].toUpperCase() : null;
          fail = { provider: m[1]!, country, ...(await readWhatIf(config, opts.day, m[1]!, country)) };
        }
        if (opts.json) {
          process.stdout.write(`${JSON.stringify({ day: opts.day, backends: data.backends ?? null, whatIf: fail }, null, 1)}\n`);
          return;
        }
        if (!data.backends)
          throw new UserError(
            `no backend data for ${opts.day}: the hitlist that served it was built without it (backends.enabled) or is not recorded in this database; rebuild it with \`haystack hitlist build --day ${opts.day} ...\``,
            1,
          );
        const lines = backendsText(data, new Map(data.classes.map((c) => [c.classId, c.name])));
        if (fail)
          lines.push(
            '',
            `WHAT IF ${fail.provider}${fail.country ? ` in ${fail.country}` : ''} FAILED: ${fmtInt(fail.lines)} detected ${data.ixp ? 'hosts' : 'lines'} would lose every backend of at least one device class` +
              (fail.classes.length ? ` (${fail.classes.join(', ')})` : ''),
          );
        process.stdout.write(`${lines.join('\n')}\n`);
      }),
    );
}
