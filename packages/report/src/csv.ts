import type { ReportData } from './data.js';
import { change, hours, orderedClasses } from './format.js';

/**
 * CSV columns, one row per detectable class (RFC 4180: CRLF line ends, header row, fields with
 * a comma, quote or line break in double quotes, quotes doubled). Text fields that begin with
 * = + - @ or a tab are prefixed with ' so a spreadsheet shows them instead of evaluating them.
 */
export const CSV_COLUMNS: readonly { name: string; description: string }[] = [
  { name: 'day', description: 'report day (UTC, YYYY-MM-DD)' },
  { name: 'level', description: 'platform, manufacturer or product' },
  { name: 'class_id', description: 'stable class id (rules/classes.yaml)' },
  { name: 'name', description: 'class name' },
  { name: 'parents', description: 'coarser classes this one implies, class ids separated by ";"' },
  { name: 'detected_lines', description: 'subscriber lines detected hosting the class on the day' },
  { name: 'detected_lines_previous', description: 'the same on the previous day; empty when there is no previous day' },
  { name: 'change', description: 'detected_lines - detected_lines_previous; empty when there is no previous day' },
  { name: 'share_of_active', description: 'detected_lines / active lines of the day, a fraction 0..1' },
  { name: 'active_lines', description: 'subscriber lines with at least one flow on the day' },
  ...Array.from({ length: 24 }, (_, i) => ({
    name: `h${String(i).padStart(2, '0')}`,
    description: `lines detected within UTC hour ${String(i).padStart(2, '0')}:00-${String(i).padStart(2, '0')}:59`,
  })),
];

function csvField(v: string | number | null, text = false): string {
  if (v === null) return '';
  let s = String(v);
  if (text && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function renderCsv(data: ReportData): string {
  if (data.ixp) return renderMembersCsv(data);
  const rows = [CSV_COLUMNS.map((c) => c.name).join(',')];
  for (const c of orderedClasses(data)) {
    const ch = change(c.detectedLines, c.detectedLinesPrevious);
    rows.push(
      [
        csvField(data.day, true),
        csvField(c.level, true),
        csvField(c.classId, true),
        csvField(c.name, true),
        csvField(c.parents.join(';'), true),
        csvField(c.detectedLines),
        csvField(c.detectedLinesPrevious),
        csvField(ch.abs),
        csvField(c.shareOfActive),
        csvField(data.lines.active),
        ...hours(c).map((v) => csvField(v)),
      ].join(','),
    );
  }
  return rows.join('\r\n') + '\r\n';
}

/** IXP deployment: one row per member and class (hosts), with the member's totals. */
export const MEMBER_CSV_COLUMNS = [
  'day',
  'member_asn',
  'member_name',
  'level',
  'class_id',
  'hosts',
  'member_iot_hosts',
  'member_active_hosts',
  'member_share_of_active',
  'member_est_bytes_to_iot',
] as const;

function renderMembersCsv(data: ReportData): string {
  const rows: string[] = [MEMBER_CSV_COLUMNS.join(',')];
  for (const m of data.ixp!.members)
    for (const c of m.classes)
      rows.push(
        [
          csvField(data.day, true),
          csvField(m.asn),
          csvField(m.name, true),
          csvField(c.level, true),
          csvField(c.classId, true),
          csvField(c.hosts),
          csvField(m.iotHosts),
          csvField(m.activeHosts),
          csvField(m.shareOfActive),
          csvField(Math.round(m.estBytesToIot)),
        ].join(','),
      );
  return rows.join('\r\n') + '\r\n';
}
