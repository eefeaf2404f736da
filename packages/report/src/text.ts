import { backendsText } from './backends.js';
import type { ReportClass, ReportData } from './data.js';
import { exportersWithoutHealth, fmtLossTotals, qualityFindings, qualityHeadline } from './findings.js';
import {
  HOST_MEANING,
  LEVELS,
  LEVEL_TITLE,
  LINE_MEANING,
  SFLOW_VERSION,
  change,
  classesOf,
  cpLen,
  cut,
  fmtBytes,
  fmtChange,
  fmtInt,
  fmtRates,
  fmtShare,
  hasSflow,
  hours,
  orderedClasses,
  padEnd,
  padStart,
  pluralOf,
  sparkline,
  termSafe,
  versionName,
} from './format.js';

function ixpText(data: ReportData, t: (s: string) => string): string[] {
  const x = data.ixp;
  if (!x) return [];
  const a = x.attribution;
  const out = [
    '',
    `MEMBERS (${x.members.length}), ranked by IoT hosts; hosts attributed by router MAC ${fmtInt(a.mac)}, AS ${fmtInt(a.as)}, route table ${fmtInt(a.prefix)}, unattributed ${fmtInt(a.none)}`,
  ];
  for (const m of x.members) {
    const name = m.asn === 0 ? '(unattributed)' : `AS${m.asn} ${m.name}`;
    out.push(
      `  ${padEnd(cut(t(name), 34), 34)} ${padStart(fmtInt(m.iotHosts), 7)} IoT hosts (${padStart(fmtShare(m.shareOfActive), 6)} of ${padStart(fmtInt(m.activeHosts), 7)} active)  ${padStart(fmtBytes(m.estBytesToIot), 9)} to IoT backends  ${sparkline(m.hourly ?? [])}`,
    );
    // Every class of the member, platforms too, wrapped under it: hosts per class.
    const items = m.classes.map((c) => t(`${c.classId}${c.level === 'platform' ? ' (platform)' : ''} ${fmtInt(c.hosts)}`));
    let line = '      ';
    for (const [i, it] of items.entries()) {
      const piece = `${it}${i < items.length - 1 ? ',' : ''}`;
      if (line.length + piece.length + 1 > 110 && line.trim()) {
        out.push(line.trimEnd());
        line = '      ';
      }
      line += `${piece} `;
    }
    if (line.trim()) out.push(line.trimEnd());
  }
  return out;
}

/** The report as a terminal table (plain text, no colours, ≤ ~110 columns). */
export function renderText(data: ReportData): string {
  const out: string[] = [];
  const t = termSafe;
  const l = data.lines;
  const h = data.hitlist;
  // At an IXP the unit is a host behind a member network (ixp.hostPrefixLength6 for IPv6), not a line.
  const unit = data.ixp ? 'hosts' : 'lines';
  const Unit = data.ixp ? 'Hosts' : 'Lines';
  out.push(`Haystack daily IoT detection report: ${t(data.day)} (UTC)`);
  out.push(
    `generated ${t(data.generatedAt)} · ${data.previousDay ? `compared with ${t(data.previousDay)}` : 'no previous day'} · ` +
      `${h.day ? `hitlist of ${t(h.day)}` : 'no hitlist'}`,
  );
  out.push('');
  const activeCh = change(l.active, l.activePrevious);
  const kpi = (label: string, value: string, note: string) => `${padEnd(label, 26)}${padStart(value, 11)}   ${note}`;
  out.push(kpi(`Active ${unit}`, fmtInt(l.active), activeCh.kind === 'na' ? '' : `${fmtChange(activeCh)} vs ${t(data.previousDay ?? '')}`));
  out.push(kpi(`${Unit} with any detection`, fmtInt(l.withAnyDetection), `${fmtShare(l.active ? l.withAnyDetection / l.active : NaN)} of active ${unit}`));
  out.push(`  (${data.ixp ? HOST_MEANING : LINE_MEANING})`);
  out.push(
    kpi(
      'Detectable classes',
      fmtInt(h.detectableClasses),
      `${LEVELS.map((x) => `${h.byLevel[x] ?? 0} ${x}`).join(' · ')} · ${h.notDetectable.length} not detectable`,
    ),
  );
  const findings = qualityFindings(data);
  const problems = findings.filter((f) => f.severity === 'problem');
  const withoutHealth = exportersWithoutHealth(data);
  out.push(
    kpi(
      'Data quality',
      qualityHeadline(data, problems.length),
      problems.length
        ? 'see DATA QUALITY below'
        : withoutHealth
          ? `${pluralOf(withoutHealth, 'exporter')} without ingest health: losses not known`
          : data.quality.exporters.length === 0
            ? 'no exporter on this day'
            : '',
    ),
  );

  // Classes, grouped by level.
  const ordered = orderedClasses(data);
  const nameW = Math.min(40, Math.max(24, ...ordered.map((c) => cpLen(t(c.name)))));
  const ch = data.previousDay ? `vs ${data.previousDay}` : 'vs previous day';
  const head = (title: string) => `${padEnd(title, nameW + 2)} ${padStart(unit, 9)} ${padStart('% active', 8)}  ${padEnd(t(ch), 17)}  hourly 00–23 UTC`;
  const groups: [string, ReportClass[]][] = LEVELS.map((x) => [`${LEVEL_TITLE[x].toUpperCase()} (${classesOf(data, x).length})`, classesOf(data, x)]);
  const other = data.classes.filter((c) => !LEVELS.includes(c.level));
  if (other.length) groups.push([`OTHER (${other.length})`, other]);
  for (const [title, list] of groups) {
    out.push('');
    out.push(head(title));
    if (list.length === 0) out.push('  (none detectable)');
    for (const c of list) {
      out.push(
        `  ${padEnd(cut(t(c.name), nameW), nameW)} ${padStart(fmtInt(c.detectedLines), 9)} ${padStart(fmtShare(c.shareOfActive), 8)}  ` +
          `${padEnd(fmtChange(change(c.detectedLines, c.detectedLinesPrevious)), 17)}  ${sparkline(hours(c))}`,
      );
    }
  }
  out.push('');
  out.push(`Hourly sparklines: ${unit} detected within each UTC hour, each class scaled to its own busiest hour; '·' = none.`);

  // Hitlist.
  out.push('');
  out.push(`HITLIST${h.day ? ` (${t(h.day)})` : ''}`);
  out.push(`  ${fmtInt(h.detectableClasses)} detectable classes: ${LEVELS.map((x) => `${h.byLevel[x] ?? 0} ${x}`).join(', ')}`);
  out.push(`  ${fmtInt(h.dedicatedAddresses)} dedicated service addresses in ${fmtInt(h.entries)} (address, port, transport) entries`);
  out.push(
    `  churn against the previous day: ${h.churn ? `+${fmtInt(h.churn.added)} added, -${fmtInt(h.churn.removed)} removed` : 'n/a (no previous hitlist)'}`,
  );
  out.push(`  not detectable (${h.notDetectable.length})${h.notDetectable.length ? ':' : ''}`);
  for (const n of h.notDetectable) out.push(`    ${t(n.name)} [${t(n.classId)}]: ${t(n.reason)}`);

  out.push(...ixpText(data, t));

  // Where the IoT traffic goes.
  if (data.backends) {
    out.push('');
    out.push(...backendsText(data, new Map(data.classes.map((c) => [c.classId, c.name]))));
  }

  // Data quality.
  const q = data.quality;
  out.push('');
  out.push(`DATA QUALITY${problems.length ? ` (${problems.length} problem${problems.length > 1 ? 's' : ''})` : ''}`);
  out.push(
    `  flows ${fmtInt(q.flowsTotal)}, matched a hitlist entry ${fmtInt(q.flowsMatched)} (${fmtShare(q.flowsTotal ? q.flowsMatched / q.flowsTotal : NaN)})`,
  );
  out.push(`  flows with unknown sampling rate ${fmtInt(q.unknownSamplingFlows)} (${fmtShare(q.flowsTotal ? q.unknownSamplingFlows / q.flowsTotal : NaN)})`);
  out.push(`  undecodable batches ${fmtInt(q.undecodableBatches)}`);
  out.push(`  lost between exporters and collectors: ${fmtLossTotals(data)}${withoutHealth ? ` (unknown for ${pluralOf(withoutHealth, 'exporter')})` : ''}`);
  const exW = Math.max(8, ...q.exporters.map((e) => cpLen(t(e.exporter))));
  const ratesW = Math.max(8, ...q.exporters.map((e) => cpLen(fmtRates(e.samplingRates))));
  // sFlow agents add their own loss counters; an all-NetFlow table keeps its usual columns.
  const sflow = hasSflow(data);
  const cols = (a: string[]) =>
    `  ${padEnd(a[0]!, exW)}  ${padEnd(a[1]!, 11)} ${padStart(a[2]!, 6)} ${padStart(a[3]!, 14)}  ${padEnd(a[4]!, ratesW)} ${padStart(a[5]!, 9)} ${padStart(a[6]!, 17)} ${padStart(a[7]!, 9)} ${padStart(a[8]!, 11)}` +
    (sflow ? ` ${padStart(a[9]!, 12)} ${padStart(a[10]!, 11)}`.trimEnd() : '');
  out.push(cols(['exporter', 'protocol', 'domain', 'records', 'sampling', 'seq gaps', 'lost', 'malformed', 'no template', 'samples lost', 'agent drops']));
  for (const e of q.exporters) {
    const sf = e.version === SFLOW_VERSION;
    out.push(
      cols([
        t(e.exporter),
        versionName(e.version),
        String(e.observationDomain),
        fmtInt(e.records),
        fmtRates(e.samplingRates),
        fmtInt(e.sequenceGaps),
        e.lost === null ? fmtInt(null) : `${fmtInt(e.lost)} ${e.lostUnit}`,
        fmtInt(e.malformed),
        fmtInt(e.missingTemplateSets),
        sf ? fmtInt(e.samplesLost ?? null) : '',
        sf ? fmtInt(e.sampleDrops ?? null) : '',
      ]),
    );
  }
  if (findings.length === 0) out.push('  no problem found');
  else if (!findings.some((f) => f.severity === 'problem') && exportersWithoutHealth(data))
    out.push(`  data quality unknown: ${pluralOf(exportersWithoutHealth(data), 'exporter')} without ingest health (losses not known)`);
  for (const f of findings) out.push(`  ${f.severity === 'problem' ? '! PROBLEM' : '- notice '} ${t(f.subject)}: ${t(f.message)}`);
  return out.join('\n') + '\n';
}
