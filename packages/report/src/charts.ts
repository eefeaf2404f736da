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
  values: number[];
}

/** A line chart of daily series with a labelled y axis and first/last day on the x axis. */
export function lineChart(opts: { id: string; title: string; days: string[]; series: Series[]; width?: number; height?: number }): string {
  const W = opts.width ?? 760;
  const H = opts.height ?? 260;
  const L = 64;
  const R = 12;
  const T = 16;
  const B = 28;
  const n = opts.days.length;
  const max = Math.max(1, ...opts.series.flatMap((s) => s.values));
  const x = (i: number) => L + (n <= 1 ? 0 : (i * (W - L - R)) / (n - 1));
  const y = (v: number) => T + (H - T - B) * (1 - v / max);
  const o: string[] = [];
  o.push(`<svg id="${e(opts.id)}" class="chart" role="img" viewBox="0 0 ${W} ${H}" width="100%" aria-labelledby="${e(opts.id)}-t">`);
  o.push(`<title id="${e(opts.id)}-t">${e(opts.title)}</title>`);
  for (const f of [0, 0.5, 1]) {
    const v = max * f;
    o.push(`<line x1="${L}" x2="${W - R}" y1="${r1(y(v))}" y2="${r1(y(v))}" stroke="#dee2e6"/>`);
    o.push(`<text x="${L - 6}" y="${r1(y(v) + 4)}" text-anchor="end" font-size="11" fill="#495057">${fmt(v)}</text>`);
  }
  if (n > 0) {
    o.push(`<text x="${L}" y="${H - 8}" font-size="11" fill="#495057">${e(opts.days[0])}</text>`);
    o.push(`<text x="${W - R}" y="${H - 8}" text-anchor="end" font-size="11" fill="#495057">${e(opts.days[n - 1])}</text>`);
  }
  for (const s of opts.series) {
    const pts = s.values.map((v, i) => `${r1(x(i))},${r1(y(v))}`).join(' ');
    o.push(
      `<polyline class="series" data-name="${e(s.name)}" fill="none" stroke="${e(s.color)}" stroke-width="2" points="${pts}"><title>${e(s.name)}</title></polyline>`,
    );
  }
  o.push('</svg>');
  return o.join('');
}

/** A small line sparkline of a daily series, for a table cell. */
export function lineSparkline(values: number[], color = '#3b5bdb', w = 120, h = 24): string {
  const max = Math.max(1, ...values);
  const n = values.length;
  const pts = values.map((v, i) => `${r1(n <= 1 ? 0 : (i * (w - 2)) / (n - 1) + 1)},${r1(h - 2 - ((h - 4) * v) / max)}`).join(' ');
  return `<svg class="spark" viewBox="0 0 ${w} ${h}" width="${w}" height="${h}" aria-hidden="true"><polyline fill="none" stroke="${e(color)}" stroke-width="1.5" points="${pts}"/></svg>`;
}

/** Vertical bars with a label under each (a histogram). */
export function columnChart(opts: { id: string; title: string; labels: string[]; values: number[]; color?: string; width?: number; height?: number }): string {
  const W = opts.width ?? 360;
  const H = opts.height ?? 120;
  const B = 18;
  const n = opts.values.length;
  const max = Math.max(1, ...opts.values);
  const bw = W / Math.max(1, n);
  const o: string[] = [
    `<svg id="${e(opts.id)}" class="chart" role="img" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" aria-labelledby="${e(opts.id)}-t"><title id="${e(opts.id)}-t">${e(opts.title)}</title>`,
  ];
  opts.values.forEach((v, i) => {
    const bh = ((H - B - 12) * v) / max;
    o.push(
      `<rect class="bar" x="${r1(i * bw + 2)}" y="${r1(H - B - bh)}" width="${r1(bw - 4)}" height="${r1(bh)}" fill="${e(opts.color ?? '#0b7285')}"><title>${e(opts.labels[i])}: ${fmt(v)}</title></rect>`,
    );
    if (v > 0) o.push(`<text x="${r1(i * bw + bw / 2)}" y="${r1(H - B - bh - 2)}" text-anchor="middle" font-size="9" fill="#212529">${fmt(v)}</text>`);
    o.push(`<text x="${r1(i * bw + bw / 2)}" y="${H - 5}" text-anchor="middle" font-size="9" fill="#495057">${e(opts.labels[i])}</text>`);
  });
  o.push('</svg>');
  return o.join('');
}
