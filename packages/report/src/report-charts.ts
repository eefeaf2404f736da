import type { Level, ReportClass, ReportData, ReportMember } from './data.js';
import { colorOf, r1, svg } from './charts.js';
import {
  type Change,
  LEVELS,
  LEVEL_TITLE,
  MINUS,
  change,
  classesOf,
  cut,
  fmtChange,
  fmtInt,
  fmtShare,
  hours,
  peakHour,
  signedPct,
  escapeHtml as e,
} from './format.js';

function changeShort(c: Change): { text: string; cls: string } {
  switch (c.kind) {
    case 'na':
      return { text: '', cls: 'na' };
    case 'same':
      return { text: '±0', cls: 'same' };
    case 'new':
      return { text: '▲ new', cls: 'up' };
    default:
      return { text: `${c.abs! > 0 ? '▲' : '▼'} ${signedPct(c.rel ?? 0, MINUS)}`, cls: c.abs! > 0 ? 'up' : 'down' };
  }
}

/** A member's hourly profile, drawn as a class's. */
export function memberSpark(m: ReportMember): string {
  const name = m.asn === 0 ? '(unattributed)' : `AS${m.asn} ${m.name}`;
  return sparkSvg({
    classId: `AS${m.asn}`,
    name,
    level: 'manufacturer',
    parents: [],
    detectedLines: m.iotHosts,
    detectedLinesPrevious: null,
    shareOfActive: 0,
    hourly: m.hourly ?? [],
  });
}

/** Horizontal bars: lines today per class of one level, a tick at the previous day's value. */
export function classBars(data: ReportData, level: Level, list: ReportClass[]): string {
  const W = 960;
  const L = 280; // label column
  const B = 400; // bar area
  const rowH = 24;
  const top = 26;
  const H = top + list.length * rowH + 6;
  const max = Math.max(1, ...list.map((c) => Math.max(c.detectedLines, c.detectedLinesPrevious ?? 0)));
  const color = colorOf(level);
  const parts: string[] = [];
  parts.push(
    `<text class="colhead" x="${L + B + 90}" y="14" text-anchor="end">lines</text>` +
      `<text class="colhead" x="${L + B + 160}" y="14" text-anchor="end">% active</text>` +
      `<text class="colhead" x="${L + B + 180}" y="14">${data.previousDay ? 'vs prev. day' : ''}</text>`,
  );
  list.forEach((c, i) => {
    const y = top + i * rowH;
    const w = (c.detectedLines / max) * B;
    const ch = change(c.detectedLines, c.detectedLinesPrevious);
    const cs = changeShort(ch);
    const zero = c.detectedLines === 0;
    const tip =
      `${c.name} (${c.classId}): ${fmtInt(c.detectedLines)} lines, ${fmtShare(c.shareOfActive)} of active lines` +
      (c.detectedLinesPrevious === null ? '' : `; previous day ${fmtInt(c.detectedLinesPrevious)} (${fmtChange(ch, MINUS)})`);
    parts.push(
      `<g class="row${zero ? ' zero' : ''}" data-class-id="${e(c.classId)}"><title>${e(tip)}</title>` +
        `<text class="label" x="${L - 10}" y="${y + 13}" text-anchor="end">${e(cut(c.name, 40))}</text>` +
        `<rect class="track" x="${L}" y="${y + 2}" width="${B}" height="16" rx="2"/>` +
        (w > 0 ? `<rect class="bar" x="${L}" y="${y + 2}" width="${r1(Math.max(1.5, w))}" height="16" rx="2" fill="${color}"/>` : '') +
        (c.detectedLinesPrevious !== null && c.detectedLinesPrevious > 0
          ? `<line class="prev" x1="${r1(L + (c.detectedLinesPrevious / max) * B)}" x2="${r1(L + (c.detectedLinesPrevious / max) * B)}" y1="${y}" y2="${y + 20}"/>`
          : '') +
        `<text class="num${zero ? ' dim' : ''}" x="${L + B + 90}" y="${y + 14}" text-anchor="end">${fmtInt(c.detectedLines)}</text>` +
        `<text class="num dim" x="${L + B + 160}" y="${y + 14}" text-anchor="end">${e(fmtShare(c.shareOfActive))}</text>` +
        `<text class="chg ${cs.cls}" x="${L + B + 180}" y="${y + 14}">${e(cs.text)}</text></g>`,
    );
  });
  const title = `${LEVEL_TITLE[level]}: subscriber lines detected on ${data.day}`;
  const desc =
    `Horizontal bars, one per ${level} class, longest first; the dark tick marks the previous day's value. ` +
    `The same numbers are in the table "All classes".`;
  return svg(W, H, title, desc, parts.join(''), `chart bars level-${level}`);
}

/** Diverging bars of the relative change against the previous day, most significant first. */
export function changeChart(data: ReportData): string {
  const cand = data.classes
    .filter((c) => c.detectedLinesPrevious !== null && (c.detectedLines > 0 || (c.detectedLinesPrevious ?? 0) > 0))
    .map((c) => {
      const ch = change(c.detectedLines, c.detectedLinesPrevious);
      // Rank by the change in units of its Poisson noise (√previous), so that neither the big
      // platforms (large absolute changes) nor tiny classes (large relative changes) crowd the chart.
      const z = Math.abs(ch.abs ?? 0) / Math.sqrt(Math.max(1, c.detectedLinesPrevious ?? 0));
      return { c, ch, z };
    })
    .filter((x) => x.ch.abs !== 0)
    .sort((a, b) => b.z - a.z || a.c.name.localeCompare(b.c.name, 'en'))
    .slice(0, 12);
  if (cand.length === 0) return '';
  const W = 960;
  const L = 300;
  const C = L + 200; // centre line
  const half = 190;
  const rowH = 24;
  const top = 24;
  const H = top + cand.length * rowH + 8;
  const maxRel = Math.max(0.01, ...cand.map((x) => Math.abs(x.ch.rel ?? 1)));
  const parts: string[] = [
    `<text class="colhead" x="${C - half}" y="14">fewer lines</text>`,
    `<text class="colhead" x="${C + half}" y="14" text-anchor="end">more lines</text>`,
    `<line class="axis" x1="${C}" x2="${C}" y1="${top - 4}" y2="${H - 4}"/>`,
  ];
  cand.forEach(({ c, ch }, i) => {
    const y = top + i * rowH;
    const rel = ch.rel ?? (ch.abs! > 0 ? maxRel : -maxRel);
    const w = Math.max(1.5, (Math.abs(rel) / maxRel) * half);
    const x = rel >= 0 ? C : C - w;
    const cls = ch.abs! > 0 ? 'up' : 'down';
    parts.push(
      `<g class="row" data-class-id="${e(c.classId)}"><title>${e(`${c.name} (${c.level}): ${fmtInt(c.detectedLinesPrevious)} → ${fmtInt(c.detectedLines)} lines, ${fmtChange(ch, MINUS)}`)}</title>` +
        `<text class="label" x="${L - 10}" y="${y + 13}" text-anchor="end">${e(cut(c.name, 36))}</text>` +
        `<circle cx="${L + 2}" cy="${y + 9}" r="4" fill="${colorOf(c.level)}"/>` +
        `<rect class="bar ${cls}" x="${r1(x)}" y="${y + 2}" width="${r1(w)}" height="16" rx="2"/>` +
        `<text class="chg ${cls}" x="${C + half + 20}" y="${y + 14}">${e(fmtChange(ch, MINUS))}</text></g>`,
    );
  });
  return svg(
    W,
    H,
    `Change in detected lines, ${data.day} against ${data.previousDay}`,
    'Diverging bars of the relative change per class, the classes whose change is largest against its day-to-day noise (change divided by the square root of the previous value) first; the dot shows the level. All changes are in the table "All classes".',
    parts.join(''),
    'chart changes',
  );
}

/** Heatmap: one row per class with detections, one column per UTC hour, shaded by the row's own maximum. */
export function heatmap(data: ReportData): string {
  const rows: ({ level: Level } | { c: ReportClass })[] = [];
  for (const level of LEVELS) {
    const list = classesOf(data, level).filter((c) => c.detectedLines > 0);
    if (list.length === 0) continue;
    rows.push({ level });
    for (const c of list) rows.push({ c });
  }
  if (rows.length === 0) return '';
  const L = 280;
  const cw = 24;
  const gap = 2;
  const rh = 16;
  const top = 22;
  const W = L + 24 * (cw + gap) + 90;
  let y = top;
  const parts: string[] = [];
  for (let hh = 0; hh < 24; hh += 3)
    parts.push(`<text class="colhead" x="${L + hh * (cw + gap) + cw / 2}" y="14" text-anchor="middle">${String(hh).padStart(2, '0')}</text>`);
  parts.push(`<text class="colhead" x="${L + 24 * (cw + gap) + 8}" y="14">peak (UTC)</text>`);
  for (const row of rows) {
    if ('level' in row) {
      y += 6;
      parts.push(`<text class="group" x="${L - 10}" y="${y + 12}" text-anchor="end">${e(LEVEL_TITLE[row.level])}</text>`);
      parts.push(`<line class="sep" x1="${L}" x2="${L + 24 * (cw + gap) - gap}" y1="${y + 8}" y2="${y + 8}"/>`);
      y += rh + gap;
      continue;
    }
    const c = row.c;
    const h = hours(c);
    const max = Math.max(...h);
    const color = colorOf(c.level);
    const cells = h
      .map((v, i) => {
        const op = v <= 0 ? 0 : 0.1 + 0.9 * (v / max);
        const hh = String(i).padStart(2, '0');
        return (
          `<rect class="cell" x="${L + i * (cw + gap)}" y="${y}" width="${cw}" height="${rh}" rx="2" fill="${v > 0 ? color : '#ffffff'}" fill-opacity="${op.toFixed(2)}">` +
          `<title>${e(`${c.name}, ${hh}:00–${hh}:59 UTC: ${fmtInt(v)} lines`)}</title></rect>`
        );
      })
      .join('');
    const pk = peakHour(h);
    parts.push(
      `<g class="row" data-class-id="${e(c.classId)}"><text class="label" x="${L - 10}" y="${y + 12}" text-anchor="end">${e(cut(c.name, 40))}</text>${cells}` +
        `<text class="num dim" x="${L + 24 * (cw + gap) + 8}" y="${y + 12}">${pk === null ? '' : `${String(pk).padStart(2, '0')}:00`}</text></g>`,
    );
    y += rh + gap;
  }
  const H = y + 6;
  return svg(
    W,
    H,
    `Hourly profile of detected lines, ${data.day} (UTC)`,
    "Heatmap: one row per class with detections, one column per UTC hour; the darker a cell, the closer that hour is to the class's busiest hour. Exact numbers are in the hourly table below the chart.",
    parts.join(''),
    'chart heatmap',
  );
}

/** A 24-bar inline sparkline for the class table. */
export function sparkSvg(c: ReportClass): string {
  const h = hours(c);
  const max = Math.max(...h);
  const bw = 3;
  const H = 18;
  const bars = h
    .map((v, i) => {
      const bh = max > 0 ? Math.max(v > 0 ? 1 : 0, (v / max) * H) : 0;
      return bh > 0 ? `<rect x="${i * bw}" y="${r1(H - bh)}" width="${bw - 0.6}" height="${r1(bh)}"/>` : '';
    })
    .join('');
  const pk = peakHour(h);
  const label = pk === null ? 'no detection in any hour' : `busiest hour ${String(pk).padStart(2, '0')}:00 UTC`;
  return `<svg class="spark" viewBox="0 0 ${24 * bw} ${H}" width="${24 * bw}" height="${H}" role="img" aria-label="${e(`hourly profile: ${label}`)}" fill="${colorOf(c.level)}"><title>${e(`${c.name}: ${label}`)}</title><rect class="base" x="0" y="${H - 0.5}" width="${24 * bw}" height="0.5"/>${bars}</svg>`;
}

/** A 100%-wide bar split in parts, for headline shares. */
export function shareBar(parts: { value: number; color: string; label: string }[], title: string): string {
  const total = parts.reduce((s, p) => s + p.value, 0);
  const W = 300;
  let x = 0;
  const rects = parts
    .map((p) => {
      const w = total > 0 ? (p.value / total) * W : 0;
      const r = w > 0 ? `<rect x="${r1(x)}" y="0" width="${r1(w)}" height="10" fill="${p.color}"><title>${e(p.label)}</title></rect>` : '';
      x += w;
      return r;
    })
    .join('');
  return `<svg class="sharebar" viewBox="0 0 ${W} 10" width="${W}" height="10" preserveAspectRatio="none" role="img" aria-label="${e(title)}"><title>${e(title)}</title>${rects}</svg>`;
}
