import { continentName, continentOf, countryName, providerName } from '@haystack/backends';
import type { Breakdowns, Slice } from '@haystack/store';
import type { ReportData } from './data.js';
import { cut, escapeHtml as e, fmtBytes, fmtInt, fmtShare, padEnd, padStart, termSafe as t } from './format.js';

/**
 * The report's "where the IoT traffic goes" section in text, CSV and HTML: backend providers,
 * AS organisations, countries and parties per class and in total, the share leaving the home
 * country and continent, and the lines that depend on one provider. Aggregates only: never a
 * line's destinations. Every figure names the datasets it rests on, their date and licence.
 */
type Backends = NonNullable<ReportData['backends']>;

export const providerLabel = (s: Slice): string => (s.key === 'unknown' ? 'other networks' : providerName(s.key));
const countryLabel = (s: Slice): string => (s.key === 'unknown' ? 'unknown' : `${s.key} ${countryName(s.key)}`);
const continentLabel = (s: Slice): string => (s.key === 'unknown' ? 'unknown' : continentName(s.key));

function top(xs: Slice[], n: number, label: (s: Slice) => string): string {
  const shown = xs.slice(0, n).map((s) => `${label(s)} ${fmtShare(s.share)}`);
  const rest = xs.slice(n).reduce((a, s) => a + s.share, 0);
  return shown.join(' · ') + (xs.length > n ? ` · ${xs.length - n} more ${fmtShare(rest)}` : '');
}

function datasetsLine(b: Backends): string {
  return b.datasets.map((d) => `${d.kind} ${d.name} of ${d.date}${d.stale ? ` (STALE: ${d.ageDays} days old)` : ` (${d.ageDays} days old)`}`).join('; ');
}

function leaving(b: Backends, x: Breakdowns): string | null {
  if (!b.homeCountry || x.outsideCountry === null) return null;
  return `leaving ${b.homeCountry}: ${fmtShare(x.outsideCountry)} of the bytes${x.outsideContinent !== null ? `; leaving the continent: ${fmtShare(x.outsideContinent)}` : ''}${x.unknownCountry > 0 ? ` (country unknown for ${fmtShare(x.unknownCountry)})` : ''}`;
}

export function backendsText(data: ReportData, names: Map<string, string>): string[] {
  const b = data.backends;
  if (!b) return [];
  const unit = data.ixp ? 'hosts' : 'lines';
  const out: string[] = [];
  const a = b.all;
  out.push(`WHERE THE IOT TRAFFIC GOES (hitlist of ${t(b.hitlistDay ?? '')}; ${t(datasetsLine(b))})`);
  out.push(`  ${fmtBytes(a.estBytes)} to IoT backends (renormalised), ${fmtInt(a.flows)} sampled flows, from ${fmtInt(a.lines)} detected ${unit}`);
  out.push(`  providers:    ${t(top(a.byProvider, 4, providerLabel))}`);
  out.push(`  networks:     ${t(top(a.byOrg, 4, (s) => s.label))}`);
  out.push(`  countries:    ${t(top(a.byCountry, 6, (s) => s.key))}`);
  out.push(`  continents:   ${t(top(a.byContinent, 4, continentLabel))}`);
  out.push(
    `  parties:      ${t(top(a.byParty, 4, (s) => s.key))}  (the domain's role for its maker; an address serving two makers counts for each of its parties)`,
  );
  const l = leaving(b, a);
  out.push(`  ${l ?? 'leaving the country: set backends.homeCountry to compute it'}`);
  out.push('');
  out.push(
    `  ${padEnd('Class', 30)} ${padStart('Bytes', 9)} ${padStart(unit, 6)}  ${padEnd('Main provider', 28)} ${padEnd('Main country', 14)}${b.homeCountry ? ` ${padStart(`Outside ${b.homeCountry}`, 10)}` : ''}`,
  );
  for (const c of b.classes.slice(0, 15)) {
    const p = c.byProvider[0];
    const k = c.byCountry[0];
    out.push(
      `  ${padEnd(cut(t(names.get(c.classId) ?? c.classId), 30), 30)} ${padStart(fmtBytes(c.estBytes), 9)} ${padStart(fmtInt(c.lines), 6)}  ` +
        `${padEnd(p ? cut(`${providerLabel(p)} ${fmtShare(p.share)}`, 28) : '–', 28)} ${padEnd(k ? `${k.key} ${fmtShare(k.share)}` : '–', 14)}` +
        `${b.homeCountry ? ` ${padStart(c.outsideCountry === null ? '–' : fmtShare(c.outsideCountry), 10)}` : ''}`,
    );
  }
  if (b.classes.length > 15) out.push(`  … ${b.classes.length - 15} more classes (JSON, CSV and HTML list every one)`);
  out.push('');
  out.push(`  Dependence: detected ${unit} with a device class whose backends are all in one provider (what its outage would cut off)`);
  if (b.dependence.length === 0) out.push('    none: every detected class has backends in more than one provider, or outside the listed providers');
  for (const d of b.dependence.slice(0, 10))
    out.push(
      `    ${padEnd(cut(t(providerName(d.provider) + (d.country ? ` in ${d.country}` : '')), 40), 40)} ${padStart(fmtInt(d.lines), 7)} ${unit}  ${t(cut(d.classes.join(', '), 70))}`,
    );
  if (b.members?.length) {
    out.push('');
    out.push(`  Per member: bytes of its hosts to IoT backends${b.homeCountry ? `, and the share leaving ${b.homeCountry} / the continent` : ''}`);
    for (const m of b.members.slice(0, 15))
      out.push(
        `    ${padEnd(cut(t(m.asn === 0 ? '(unattributed)' : `AS${m.asn} ${m.name}`), 40), 40)} ${padStart(fmtBytes(m.estBytes), 9)}` +
          (b.homeCountry
            ? `  ${padStart(m.outsideCountry === null ? '–' : fmtShare(m.outsideCountry), 7)} / ${m.outsideContinent === null ? '–' : fmtShare(m.outsideContinent)}`
            : ''),
      );
  }
  out.push(
    `  unknown: of ${fmtInt(b.addresses)} hitlist addresses, ${fmtInt(b.unknown.asn)} in no AS dataset, ${fmtInt(b.unknown.country)} without a country, ${fmtInt(b.unknown.provider)} in none of the listed providers (counted, never guessed)`,
  );
  for (const d of b.datasets) out.push(`  data: ${t(d.attribution)}`);
  return out;
}

/** CSV of the section: one row per scope (all, or a class), dimension and value. */
export const BACKENDS_CSV_COLUMNS: readonly { name: string; description: string }[] = [
  { name: 'day', description: 'report day (UTC)' },
  { name: 'scope', description: '"all" (every IoT byte once; for party, once per party of its address) or a class id' },
  { name: 'dimension', description: 'provider, network (origin AS), country, continent or party' },
  { name: 'key', description: 'provider id, ASnnn, ISO country or continent code, party; "unknown" where no dataset knows' },
  { name: 'label', description: 'provider name, AS organisation, country name' },
  { name: 'est_bytes', description: 'bytes to those backends, renormalised by the sampling rate' },
  { name: 'share', description: 'est_bytes / the scope’s bytes, 0..1' },
  { name: 'flows', description: 'sampled flows' },
  { name: 'lines', description: 'detected lines (hosts at an IXP) of the scope that sent traffic there' },
];

const csvField = (v: string | number): string => {
  let s = String(v);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

export function renderBackendsCsv(data: ReportData): string {
  const rows = [BACKENDS_CSV_COLUMNS.map((c) => c.name).join(',')];
  const b = data.backends;
  if (b) {
    const dims: [string, (x: Breakdowns) => Slice[], (s: Slice) => string][] = [
      ['provider', (x) => x.byProvider, providerLabel],
      ['network', (x) => x.byOrg, (s) => s.label],
      ['country', (x) => x.byCountry, countryLabel],
      ['continent', (x) => x.byContinent, continentLabel],
      ['party', (x) => x.byParty, (s) => s.key],
    ];
    for (const [scope, x] of [['all', b.all] as const, ...b.classes.map((c) => [c.classId, c] as const)])
      for (const [dim, get, label] of dims)
        for (const s of get(x))
          rows.push([data.day, scope, dim, s.key, label(s), Math.round(s.estBytes), s.share.toFixed(6), s.flows, s.lines].map(csvField).join(','));
  }
  return rows.join('\r\n') + '\r\n';
}

const PALETTE = ['#3b5bdb', '#0b7285', '#c2255c', '#e8590c', '#5f3dc4', '#2b8a3e', '#868e96', '#d6336c', '#1098ad', '#f08c00'];

/** The HTML section: stacked bars per class by provider (a legend names every colour), a world table by country, the dependence table. */
export function backendsHtml(b: Backends | undefined, o2: { hosts: boolean; names: Map<string, string> }): string {
  if (!b) return '';
  const names = o2.names;
  const unit = o2.hosts ? 'hosts' : 'lines';
  const o: string[] = ['<section id="backends">', '<h2>Where the IoT traffic goes</h2>'];
  o.push(
    `<p class="note">Bytes to the hitlist's backend addresses (renormalised by the sampling rate), by where the addresses live. Datasets: ${e(datasetsLine(b))}.` +
      `${b.datasets.some((d) => d.stale) ? ' <strong class="bad">Stale data</strong>: point the configuration (backends.asn, backends.country, backends.providers) at newer copies.' : ''}</p>`,
  );
  const a = b.all;
  const l = leaving(b, a);
  o.push(
    `<div class="kpis"><div class="kpi"><div class="label">To IoT backends</div><div class="value">${e(fmtBytes(a.estBytes))}</div><div class="sub">${fmtInt(a.lines)} detected ${unit}</div></div>` +
      `<div class="kpi" id="kpi-leaving"><div class="label">${b.homeCountry ? `Leaving ${e(b.homeCountry)}` : 'Leaving the country'}</div><div class="value">${a.outsideCountry === null ? '–' : e(fmtShare(a.outsideCountry))}</div><div class="sub">${l ? e(l) : 'set backends.homeCountry'}</div></div>` +
      `<div class="kpi"><div class="label">Largest provider</div><div class="value">${e(a.byProvider[0] ? providerLabel(a.byProvider[0]) : '–')}</div><div class="sub">${a.byProvider[0] ? e(fmtShare(a.byProvider[0].share)) : ''} of the bytes</div></div></div>`,
  );
  // Stacked bars per class by provider, one colour per provider (a legend names each).
  const providers = [...new Set([...a.byProvider.map((s) => s.key), ...b.classes.flatMap((c) => c.byProvider.map((s) => s.key))])];
  const color = new Map(providers.map((p, i) => [p, p === 'unknown' ? '#ced4da' : PALETTE[i % PALETTE.length]!]));
  const shown = b.classes.slice(0, 20);
  const rowH = 22;
  const W = 900;
  const L = 260;
  const barW = W - L - 20;
  const bars = [
    { id: '', name: 'All IoT traffic', x: a as Breakdowns },
    ...shown.map((c) => ({ id: c.classId, name: names.get(c.classId) ?? c.classId, x: c as Breakdowns })),
  ];
  const svg: string[] = [];
  bars.forEach((r, i) => {
    let x = L;
    svg.push(`<text x="${L - 8}" y="${i * rowH + 15}" text-anchor="end" font-size="12">${e(cut(r.name, 36))}</text>`);
    for (const s of r.x.byProvider) {
      const w = Math.max(0, s.share * barW);
      svg.push(
        `<rect x="${x.toFixed(1)}" y="${i * rowH + 4}" width="${w.toFixed(1)}" height="14" fill="${color.get(s.key)}"><title>${e(`${r.name}: ${providerLabel(s)} ${fmtShare(s.share)} (${fmtBytes(s.estBytes)})`)}</title></rect>`,
      );
      x += w;
    }
  });
  const legendY = bars.length * rowH + 12;
  let lx = L;
  for (const p of providers) {
    const label = p === 'unknown' ? 'other networks (no listed provider)' : providerName(p);
    svg.push(
      `<rect x="${lx}" y="${legendY}" width="12" height="10" fill="${color.get(p)}"/><text x="${lx + 16}" y="${legendY + 9}" font-size="11">${e(label)}</text>`,
    );
    lx += 24 + label.length * 6.5;
  }
  o.push(
    `<figure><figcaption><h3>Bytes per class by provider</h3></figcaption><svg class="chart backends" role="img" viewBox="0 0 ${W} ${legendY + 20}" width="${W}" aria-label="Share of each class's bytes by backend provider"><title>Share of each class's bytes by backend provider</title>${svg.join('')}</svg></figure>`,
  );
  // World table by country.
  o.push(
    '<h3>By country</h3><div class="scroll"><table class="grid" id="backends-countries"><caption>Bytes to IoT backends per country (all classes)</caption>',
  );
  o.push(
    `<thead><tr><th scope="col">Country</th><th scope="col">Continent</th><th scope="col" class="num">Bytes</th><th scope="col" class="num">Share</th><th scope="col" class="num">Detected ${unit}</th></tr></thead><tbody>`,
  );
  for (const s of a.byCountry)
    o.push(
      `<tr data-country="${e(s.key)}"><td>${e(countryLabel(s))}</td><td>${e(s.key === 'unknown' ? '' : continentName(continentOf(s.key) ?? ''))}</td><td class="num">${e(fmtBytes(s.estBytes))}</td><td class="num">${e(fmtShare(s.share))}</td><td class="num">${fmtInt(s.lines)}</td></tr>`,
    );
  o.push('</tbody></table></div>');
  // Per class table (every class).
  o.push(
    '<h3>Per class</h3><div class="scroll"><table class="grid" id="backends-classes"><caption>Every class: bytes, main provider, network and country, parties</caption>',
  );
  o.push(
    `<thead><tr><th scope="col">Class</th><th scope="col" class="num">Bytes</th><th scope="col" class="num">Detected ${unit}</th><th scope="col">Providers</th><th scope="col">Networks</th><th scope="col">Countries</th><th scope="col">Parties</th>${b.homeCountry ? `<th scope="col" class="num">Outside ${e(b.homeCountry)}</th>` : ''}</tr></thead><tbody>`,
  );
  for (const c of b.classes)
    o.push(
      `<tr data-class-id="${e(c.classId)}"><th scope="row">${e(names.get(c.classId) ?? c.classId)}</th><td class="num">${e(fmtBytes(c.estBytes))}</td><td class="num">${fmtInt(c.lines)}</td>` +
        `<td>${e(top(c.byProvider, 2, providerLabel))}</td><td>${e(top(c.byOrg, 2, (s) => s.label))}</td><td>${e(top(c.byCountry, 3, (s) => s.key))}</td><td>${e(top(c.byParty, 3, (s) => s.key))}</td>` +
        `${b.homeCountry ? `<td class="num">${c.outsideCountry === null ? '–' : e(fmtShare(c.outsideCountry))}</td>` : ''}</tr>`,
    );
  o.push('</tbody></table></div>');
  o.push(
    `<h3>Dependence on one provider</h3><p class="note">Detected ${unit} with at least one device class whose backends are all in one provider (or one provider in one country): what an outage there would cut off from their IoT backends.</p>`,
  );
  o.push(
    `<table class="grid" id="backends-dependence"><thead><tr><th scope="col">Provider</th><th scope="col">Country</th><th scope="col" class="num">${unit}</th><th scope="col">Classes</th></tr></thead><tbody>`,
  );
  for (const d of b.dependence)
    o.push(
      `<tr data-provider="${e(d.provider)}" data-country="${e(d.country)}"><td>${e(providerName(d.provider))}</td><td>${e(d.country || 'any')}</td><td class="num">${fmtInt(d.lines)}</td><td>${e(d.classes.join(', '))}</td></tr>`,
    );
  if (b.dependence.length === 0) o.push('<tr><td colspan="4">none</td></tr>');
  o.push('</tbody></table>');
  o.push(
    `<p class="note">Of ${fmtInt(b.addresses)} hitlist addresses, ${fmtInt(b.unknown.asn)} are in no AS dataset, ${fmtInt(b.unknown.country)} have no country, ${fmtInt(b.unknown.provider)} are in none of the listed providers: counted as unknown, never guessed.</p>`,
  );
  o.push(`<p class="note attribution">${b.datasets.map((d) => e(d.attribution)).join('<br>')}</p>`);
  o.push('</section>');
  return o.join('\n');
}
