import type { ReportData } from './data.js';

/** The report data as JSON, exactly as given (parses back to an equal object). */
export function renderJson(data: ReportData): string {
  return JSON.stringify(data, null, 2) + '\n';
}
