import type { ReportData, ReportExporter } from './data.js';
import { SFLOW_VERSION, change, fmtInt, fmtRates, pluralOf, signedPct, versionName } from './format.js';

export interface QualityFinding {
  /** problem: the day's numbers are likely incomplete or wrong; notice: worth knowing. */
  severity: 'problem' | 'notice';
  /** What it is about: an exporter ("192.0.2.7 NetFlow v9 domain 1") or a part of the pipeline. */
  subject: string;
  message: string;
}

function exporterLabel(e: ReportExporter): string {
  return `${e.exporter} ${versionName(e.version)} domain ${e.observationDomain}`;
}

/** What is wrong (or worth knowing) with the day's input and the report built from it. */
/** Exporters whose losses and sequence gaps are unknown: no ingest health snapshot reached storage for the day. */
export function exportersWithoutHealth(data: ReportData): number {
  return data.quality.exporters.filter((e) => e.sequenceGaps === null && e.lost === null && e.malformed === null && e.missingTemplateSets === null).length;
}

/** Losses summed per unit (never across units), for the exporters whose health is known. */
export function lossTotals(data: ReportData): { unit: string; lost: number; protocols: string[] }[] {
  const by = new Map<string, { unit: string; lost: number; protocols: string[] }>();
  const add = (unit: string, n: number | null | undefined, protocol: string) => {
    if (!n) return;
    let t = by.get(unit);
    if (!t) by.set(unit, (t = { unit, lost: 0, protocols: [] }));
    t.lost += n;
    if (!t.protocols.includes(protocol)) t.protocols.push(protocol);
  };
  for (const e of data.quality.exporters) {
    add(e.lostUnit, e.lost, versionName(e.version));
    if (e.version === SFLOW_VERSION) add('samples', e.samplesLost, versionName(e.version));
  }
  return [...by.values()];
}

/** "120 packets (NetFlow v9) · 7,043 records (IPFIX)", or "none". */
export function fmtLossTotals(data: ReportData): string {
  const l = lossTotals(data);
  return l.length ? l.map((x) => `${fmtInt(x.lost)} ${x.unit} (${x.protocols.join(', ')})`).join(' · ') : 'none';
}

/** "OK" only when it is known to be: no problem, and health known for every exporter. */
export function qualityHeadline(data: ReportData, problems: number): string {
  if (problems) return pluralOf(problems, 'problem');
  const unknown = exportersWithoutHealth(data);
  if (unknown || data.quality.exporters.length === 0) return 'unknown';
  return 'OK';
}

export function qualityFindings(data: ReportData): QualityFinding[] {
  const out: QualityFinding[] = [];
  const q = data.quality;
  const problem = (subject: string, message: string) => out.push({ severity: 'problem', subject, message });
  const notice = (subject: string, message: string) => out.push({ severity: 'notice', subject, message });

  if (q.flowsTotal === 0 || q.exporters.length === 0) problem('flows', 'no flow record reached the detector on this day');
  if (data.lines.active === 0) problem('lines', 'no active subscriber line on this day: shares cannot be computed');
  if (data.hitlist.day === null) problem('hitlist', 'no hitlist was in use: nothing could be detected');
  else if (data.hitlist.day !== data.day) problem('hitlist', `the hitlist in use is from ${data.hitlist.day}, not from ${data.day}`);
  if (q.flowsTotal > 0 && q.flowsMatched === 0) problem('hitlist', 'no flow matched a hitlist entry (hitlist not loaded, or subscriber prefixes wrong?)');
  for (const r of q.partialReplays ?? [])
    problem(
      'replay',
      `the replay of ${r.file} was interrupted after ${r.totalBytes ? Math.round((100 * r.bytesRead) / r.totalBytes) : 0} % of the file: this day's figures are partial until it is run again to the end`,
    );
  if (q.undecodableBatches > 0) problem('detector', `${fmtInt(q.undecodableBatches)} flow batch(es) could not be decoded and were skipped`);

  let unknownCovered = false;
  for (const e of q.exporters) {
    const who = exporterLabel(e);
    const rates = e.samplingRates ?? [];
    if (rates.includes(0)) {
      unknownCovered = true;
      problem(
        who,
        `sampling rate unknown for ${rates.length > 1 ? 'part' : 'all'} of its flows (rates seen: ${fmtRates(rates)}); ` +
          'it sends no sampler options: set ingest.sampling.exporters for it',
      );
    }
    const known = rates.filter((r) => r > 0);
    if (known.length > 1) notice(who, `sampling rate changed during the day (${fmtRates(known)})`);
    if ((e.sequenceGaps ?? 0) > 0 || (e.lost ?? 0) > 0) {
      problem(
        who,
        `${fmtInt(e.sequenceGaps ?? 0)} sequence gap(s), ${e.lost === null ? 'unknown' : fmtInt(e.lost)} ${e.lostUnit} lost between exporter and collector`,
      );
    }
    if ((e.samplesLost ?? 0) > 0) problem(who, `${fmtInt(e.samplesLost)} sFlow sample(s) lost between agent and collector (sample sequence gaps)`);
    if ((e.sampleDrops ?? 0) > 0)
      problem(who, `the agent dropped ${fmtInt(e.sampleDrops)} packet(s) it should have sampled (its sampling queue overflowed): rates understate traffic`);
    if ((e.malformed ?? 0) > 0) problem(who, `${fmtInt(e.malformed)} malformed packet(s) or record(s)`);
    if ((e.missingTemplateSets ?? 0) > 0) problem(who, `${fmtInt(e.missingTemplateSets)} data set(s) arrived without a known template`);
    if (e.sequenceGaps === null && e.lost === null && e.malformed === null && e.missingTemplateSets === null)
      notice(who, 'no ingest health snapshot: sequence gaps, losses and malformed records are unknown');
    if (e.records === 0) notice(who, 'no flow record from this exporter on the day');
  }
  if (q.unknownSamplingFlows > 0 && !unknownCovered) problem('flows', `${fmtInt(q.unknownSamplingFlows)} flows with unknown sampling rate`);

  const active = change(data.lines.active, data.lines.activePrevious);
  if (active.rel !== null && Math.abs(active.rel) >= 0.1)
    notice(
      'lines',
      `active lines changed by ${signedPct(active.rel, '-')} against ${data.previousDay ?? 'the previous day'} (exporter outage or new prefixes?)`,
    );
  if (data.previousDay === null) notice('report', 'no previous day in storage: changes against the previous day are not shown');
  return out;
}
