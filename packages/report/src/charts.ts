import type { Level } from './data.js';
import { escapeHtml as e } from './format.js';

export const COLOR: Record<Level, string> = { platform: '#3b5bdb', manufacturer: '#0b7285', product: '#c2255c' };
export const colorOf = (l: Level) => COLOR[l] ?? '#495057';

/** Round to 1 decimal for compact SVG coordinates. */
export const r1 = (x: number) => Math.round(x * 10) / 10;

let svgSeq = 0;

/** Chart ids restart with each rendered page, so the same data renders the same markup. */
export function resetSvgIds(): void {
  svgSeq = 0;
}

/** An <svg> that scales to the page width, announced as an image with a title and description. */
export function svg(width: number, height: number, title: string, desc: string, body: string, cls = 'chart'): string {
  const id = `svg${++svgSeq}`;
  return (
    `<svg class="${cls}" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-labelledby="${id}t ${id}d" preserveAspectRatio="xMinYMin meet">` +
    `<title id="${id}t">${e(title)}</title><desc id="${id}d">${e(desc)}</desc>${body}</svg>`
  );
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

export interface Series {
  name: string;
  color: string;
  /** One value per day; null: nothing stored that day (drawn as a gap, never as 0). */
  values: (number | null)[];
}

/**
 * A line chart of daily series: a visible title, a labelled y axis, first/last day on the x axis,
 * a legend naming every series, and days without data shaded and left out of the lines (a gap,
 * not a fall to zero).
 */
export function lineChart(opts: { id: string; title: string; days: string[]; series: Series[]; width?: number; height?: number }): string {
  const W = opts.width ?? 760;
  const H = opts.height ?? 260;
  const L = 64;
  const R = 12;
  const T = 30;
  const B = 46;
  const n = opts.days.length;
  const max = Math.max(1, ...opts.series.flatMap((s) => s.values.filter((v): v is number => v !== null)));
  const x = (i: number) => L + (n <= 1 ? (W - L - R) / 2 : (i * (W - L - R)) / (n - 1));
  const y = (v: number) => T + (H - T - B) * (1 - v / max);
  const step = n <= 1 ? W - L - R : (W - L - R) / (n - 1);
  const o: string[] = [];
  o.push(`<svg id="${e(opts.id)}" class="chart" role="img" viewBox="0 0 ${W} ${H}" width="100%" aria-labelledby="${e(opts.id)}-t">`);
  o.push(`<title id="${e(opts.id)}-t">${e(opts.title)}</title>`);
  o.push(`<text class="chart-title" x="${L}" y="14" font-size="13" font-weight="600" fill="#212529">${e(opts.title)}</text>`);
  // Days nothing was stored for: shaded, named on hover.
  const gaps = opts.days.flatMap((d, i) => (opts.series.length > 0 && opts.series.every((s) => s.values[i] === null || s.values[i] === undefined) ? [i] : []));
  for (const i of gaps) {
    const x0 = Math.max(L, x(i) - step / 2);
    const x1 = Math.min(W - R, x(i) + step / 2);
    o.push(
      `<rect class="gap" data-day="${e(opts.days[i])}" x="${r1(x0)}" y="${T}" width="${r1(Math.max(1, x1 - x0))}" height="${H - T - B}" fill="#f1f3f5"><title>${e(opts.days[i])}: no data stored</title></rect>`,
    );
  }
  for (const f of [0, 0.5, 1]) {
    const v = max * f;
    o.push(`<line x1="${L}" x2="${W - R}" y1="${r1(y(v))}" y2="${r1(y(v))}" stroke="#dee2e6"/>`);
    o.push(`<text x="${L - 6}" y="${r1(y(v) + 4)}" text-anchor="end" font-size="11" fill="#495057">${fmt(v)}</text>`);
  }
  if (n > 0) {
    o.push(`<text x="${L}" y="${H - 26}" font-size="11" fill="#495057">${e(opts.days[0])}</text>`);
    if (n > 1) o.push(`<text x="${W - R}" y="${H - 26}" text-anchor="end" font-size="11" fill="#495057">${e(opts.days[n - 1])}</text>`);
  }
  for (const s of opts.series) {
    // One polyline per run of days with data; a lone day is a dot.
    const runs: string[][] = [];
    let run: string[] | null = null;
    s.values.forEach((v, i) => {
      if (v === null || v === undefined) {
        run = null;
        return;
      }
      if (!run) runs.push((run = []));
      run.push(`${r1(x(i))},${r1(y(v))}`);
    });
    o.push(`<g class="series" data-name="${e(s.name)}"><title>${e(s.name)}</title>`);
    for (const pts of runs)
      o.push(
        pts.length === 1
          ? `<circle cx="${pts[0]!.split(',')[0]}" cy="${pts[0]!.split(',')[1]}" r="2.5" fill="${e(s.color)}"/>`
          : `<polyline fill="none" stroke="${e(s.color)}" stroke-width="2" points="${pts.join(' ')}"/>`,
      );
    o.push('</g>');
  }
  // Legend: every series by colour, and what the shading means when a day has none.
  const legend: { label: string; swatch: (lx: number) => string }[] = opts.series.map((s) => ({
    label: s.name,
    swatch: (lx) => `<rect x="${r1(lx)}" y="${H - 15}" width="14" height="4" fill="${e(s.color)}"/>`,
  }));
  if (gaps.length)
    legend.push({ label: 'no data stored', swatch: (lx) => `<rect x="${r1(lx)}" y="${H - 19}" width="14" height="10" fill="#f1f3f5" stroke="#dee2e6"/>` });
  o.push('<g class="legend">');
  let lx = L;
  for (const it of legend) {
    o.push(`${it.swatch(lx)}<text x="${r1(lx + 18)}" y="${H - 9}" font-size="11" fill="#495057">${e(it.label)}</text>`);
    lx += 18 + Math.min(220, 6.5 * it.label.length) + 14;
  }
  o.push('</g>');
  o.push('</svg>');
  return o.join('');
}

/** A small line sparkline of a daily series, for a table cell. */
export function lineSparkline(values: (number | null)[], color = '#3b5bdb', w = 120, h = 24): string {
  const max = Math.max(1, ...values.filter((v): v is number => v !== null));
  const n = values.length;
  // Days without data break the line (as in lineChart).
  const runs: string[][] = [];
  let run: string[] | null = null;
  values.forEach((v, i) => {
    if (v === null) {
      run = null;
      return;
    }
    if (!run) runs.push((run = []));
    run.push(`${r1(n <= 1 ? 0 : (i * (w - 2)) / (n - 1) + 1)},${r1(h - 2 - ((h - 4) * v) / max)}`);
  });
  const lines = runs.map(
    (pts) => `<polyline fill="none" stroke="${e(color)}" stroke-width="1.5" points="${pts.length === 1 ? `${pts[0]} ${pts[0]}` : pts.join(' ')}"/>`,
  );
  return `<svg class="spark" viewBox="0 0 ${w} ${h}" width="${w}" height="${h}" aria-hidden="true">${lines.join('')}</svg>`;
}

/** Vertical bars with a label under each (a histogram), a visible title and what the x axis counts. */
export function columnChart(opts: {
  id: string;
  title: string;
  labels: string[];
  values: number[];
  /** What the labels under the bars measure (the x axis), and what a bar counts. */
  xLabel?: string;
  color?: string;
  width?: number;
  height?: number;
}): string {
  const W = opts.width ?? 360;
  const H = opts.height ?? 120;
  const T = 20;
  const B = opts.xLabel ? 32 : 18;
  const n = opts.values.length;
  const max = Math.max(1, ...opts.values);
  const bw = W / Math.max(1, n);
  const o: string[] = [
    `<svg id="${e(opts.id)}" class="chart" role="img" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" aria-labelledby="${e(opts.id)}-t"><title id="${e(opts.id)}-t">${e(opts.title)}</title>`,
    `<text class="chart-title" x="2" y="13" font-size="12" font-weight="600" fill="#212529">${e(opts.title)}</text>`,
  ];
  opts.values.forEach((v, i) => {
    const bh = ((H - B - T - 12) * v) / max;
    o.push(
      `<rect class="bar" x="${r1(i * bw + 2)}" y="${r1(H - B - bh)}" width="${r1(bw - 4)}" height="${r1(bh)}" fill="${e(opts.color ?? '#0b7285')}"><title>${e(opts.labels[i])}: ${fmt(v)}</title></rect>`,
    );
    if (v > 0) o.push(`<text x="${r1(i * bw + bw / 2)}" y="${r1(H - B - bh - 2)}" text-anchor="middle" font-size="9" fill="#212529">${fmt(v)}</text>`);
    o.push(`<text x="${r1(i * bw + bw / 2)}" y="${H - B + 13}" text-anchor="middle" font-size="9" fill="#495057">${e(opts.labels[i])}</text>`);
  });
  if (opts.xLabel) o.push(`<text class="axis-label" x="${W / 2}" y="${H - 3}" text-anchor="middle" font-size="10" fill="#495057">${e(opts.xLabel)}</text>`);
  o.push('</svg>');
  return o.join('');
}
