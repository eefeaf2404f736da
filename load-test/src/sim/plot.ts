/**
 * Minimal SVG charts for the accuracy benchmark: line charts over categorical x values and
 * scatter plots, with axes, grid, legend. Self-contained text (no fonts or scripts to fetch),
 * deterministic output for the same data.
 */
export interface Series {
  name: string;
  color: string;
  dash?: string;
  points: [number, number][];
  /** Scatter only: a label drawn next to each point. */
  labels?: string[];
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  /** Categorical x axis: tick values in order (points use these values). */
  xTicks?: number[];
  xTickLabels?: string[];
  /** Numeric axes ranges; defaults from the data. */
  xMax?: number;
  yMax?: number;
  yPercent?: boolean;
  xPercent?: boolean;
  width?: number;
  height?: number;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const f = (n: number) => (Math.round(n * 10) / 10).toString();

export const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf', '#8c564b', '#e377c2'];
export const DASHES = ['', '6 3', '2 3', '8 3 2 3'];

function frame(o: ChartOptions, series: Series[], mode: 'line' | 'scatter'): string {
  const W = o.width ?? 760;
  const H = o.height ?? 440;
  const legendW = 220;
  const m = { l: 64, r: legendW + 16, t: 40, b: 56 };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const all = series.flatMap((s) => s.points);
  const cat = o.xTicks !== undefined;
  const xs = cat ? o.xTicks! : all.map((p) => p[0]);
  const xMin = cat ? 0 : 0;
  const xMax = cat ? xs.length - 1 : (o.xMax ?? Math.max(1e-9, ...xs) * 1.1);
  const yMax = o.yMax ?? Math.max(1e-9, ...all.map((p) => p[1])) * 1.1;
  const X = (x: number) => {
    const v = cat ? Math.max(0, xs.indexOf(x)) : x;
    return m.l + (xMax === xMin ? pw / 2 : ((v - xMin) / (xMax - xMin)) * pw);
  };
  const Y = (y: number) => m.t + ph - (y / yMax) * ph;
  const fmtY = (v: number) => (o.yPercent ? `${f(v * 100)}%` : f(v));
  const fmtX = (v: number) => (o.xPercent ? `${(v * 100).toPrecision(2)}%` : f(v));
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
  );
  out.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  out.push(`<text x="${W / 2 - legendW / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(o.title)}</text>`);
  // Grid and y ticks.
  for (let i = 0; i <= 5; i++) {
    const v = (yMax * i) / 5;
    const y = Y(v);
    out.push(`<line x1="${m.l}" y1="${f(y)}" x2="${m.l + pw}" y2="${f(y)}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${m.l - 6}" y="${f(y + 4)}" text-anchor="end">${fmtY(v)}</text>`);
  }
  // X ticks.
  const ticks = cat
    ? xs.map((x, i) => ({ x, label: o.xTickLabels?.[i] ?? String(x) }))
    : Array.from({ length: 6 }, (_, i) => ({ x: (xMax * i) / 5, label: fmtX((xMax * i) / 5) }));
  for (const t of ticks) {
    const x = X(t.x);
    out.push(`<line x1="${f(x)}" y1="${m.t}" x2="${f(x)}" y2="${m.t + ph}" stroke="#f0f0f0"/>`);
    out.push(`<text x="${f(x)}" y="${m.t + ph + 18}" text-anchor="middle">${esc(t.label)}</text>`);
  }
  out.push(`<line x1="${m.l}" y1="${m.t + ph}" x2="${m.l + pw}" y2="${m.t + ph}" stroke="#333"/>`);
  out.push(`<line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${m.t + ph}" stroke="#333"/>`);
  out.push(`<text x="${m.l + pw / 2}" y="${H - 14}" text-anchor="middle">${esc(o.xLabel)}</text>`);
  out.push(`<text transform="translate(16 ${m.t + ph / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}</text>`);
  // Data.
  for (const s of series) {
    const pts = s.points.map(([x, y]) => [X(x), Y(y)] as const);
    if (mode === 'line' && pts.length > 1)
      out.push(
        `<polyline fill="none" stroke="${s.color}" stroke-width="2"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''} points="${pts.map(([x, y]) => `${f(x)},${f(y)}`).join(' ')}"/>`,
      );
    pts.forEach(([x, y], i) => {
      out.push(`<circle cx="${f(x)}" cy="${f(y)}" r="${mode === 'scatter' ? 5 : 3}" fill="${s.color}"/>`);
      const label = s.labels?.[i];
      if (label) out.push(`<text x="${f(x + 7)}" y="${f(y - 6)}" font-size="10" fill="#444">${esc(label)}</text>`);
    });
  }
  // Legend.
  const lx = W - legendW;
  series.forEach((s, i) => {
    const y = m.t + 8 + i * 18;
    out.push(`<line x1="${lx}" y1="${y}" x2="${lx + 26}" y2="${y}" stroke="${s.color}" stroke-width="2"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`);
    out.push(`<circle cx="${lx + 13}" cy="${y}" r="3" fill="${s.color}"/>`);
    out.push(`<text x="${lx + 32}" y="${y + 4}">${esc(s.name)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

export function lineChart(o: ChartOptions, series: Series[]): string {
  return frame(o, series, 'line');
}

export function scatterChart(o: ChartOptions, series: Series[]): string {
  return frame(o, series, 'scatter');
}
