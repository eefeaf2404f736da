/**
 * Renders the daily detection report ({@link ReportData}) as a terminal table (text.ts), JSON
 * (json.ts), CSV (csv.ts) and one self-contained HTML page (html.ts: inline CSS from css.ts and
 * SVG charts from charts.ts and report-charts.ts, no script, nothing loaded from anywhere); what
 * is wrong with a day's input is found in findings.ts, numbers and text are formatted in format.ts.
 *
 * Class names and ids come from data files (rules, hitlist builds), so every piece of text is
 * treated as hostile: HTML-escaped in the page, control and bidi characters replaced in the
 * terminal output, quoted (and guarded against spreadsheet formulas) in the CSV.
 */

export {
  LEVELS,
  escapeHtml,
  fmtInt,
  fmtShare,
  fmtChange,
  change,
  classesOf,
  orderedClasses,
  sparkline,
  LINE_MEANING,
  HOST_MEANING,
  type Change,
} from './format.js';
export { exportersWithoutHealth, fmtLossTotals, lossTotals, qualityFindings, type QualityFinding } from './findings.js';
export { renderText } from './text.js';
export { renderJson } from './json.js';
export { CSV_COLUMNS, MEMBER_CSV_COLUMNS, renderCsv } from './csv.js';
export { REPORT_CSS, renderHtml, renderReportBody } from './html.js';
