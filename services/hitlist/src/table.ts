/**
 * A plain-text table for the terminal: columns padded to their widest cell (capped by
 * `maxWidths`, longer cells cut with "…"), two spaces apart, the last column left as it is;
 * `rule` draws a dashed line under the header.
 */
export function textTable(header: string[], rows: string[][], opts: { maxWidths?: (number | undefined)[]; rule?: boolean } = {}): string[] {
  const last = header.length - 1;
  const widths = header.map((h, i) => Math.min(opts.maxWidths?.[i] ?? Infinity, Math.max(h.length, ...rows.map((r) => r[i]!.length))));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === last ? c : c.length > widths[i]! ? `${c.slice(0, widths[i]! - 1)}…` : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...(opts.rule ? [widths.map((w) => '-'.repeat(w)).join('  ')] : []), ...rows.map(line)];
}
