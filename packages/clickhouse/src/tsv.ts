/**
 * Rows as ClickHouse TabSeparated text, for the embedded engine's bulk inserts: chdb reads a
 * TabSeparated file with `INSERT … FROM INFILE` instead of parsing the rows inlined in the
 * statement as JSONEachRow. Measured on detector evidence rows (`bench:insert`,
 * load-test/RESULTS.md): about 14 % less wall time per insert, CPU about the same (0.96×).
 *
 * Values: strings (escaped as TabSeparated requires), finite numbers, bigints, booleans (1/0),
 * null/undefined (\N: NULL, or the column default for non-Nullable columns), arrays of those
 * (ClickHouse array literals). Anything else is refused: the caller then uses JSON.
 */

const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r', '\0': '\\0' };
const NEEDS_ESCAPE = /[\\\t\n\r\0]/;
const ESCAPE_ALL = /[\\\t\n\r\0]/g;
/** Inside a quoted literal (array elements) the quote is escaped too. */
const QUOTED: Record<string, string> = { ...ESCAPES, "'": "\\'" };
const QUOTED_ALL = /[\\\t\n\r\0']/g;

export class TsvValueError extends Error {}

function num(n: number): string {
  if (Number.isFinite(n)) return String(n);
  return Number.isNaN(n) ? 'nan' : n > 0 ? 'inf' : '-inf';
}

/** One array element as a ClickHouse literal (strings quoted). */
function element(v: unknown): string {
  switch (typeof v) {
    case 'string':
      return `'${v.replace(QUOTED_ALL, (c) => QUOTED[c]!)}'`;
    case 'number':
      return num(v);
    case 'bigint':
      return v.toString();
    case 'boolean':
      return v ? '1' : '0';
    default:
      if (v === null) return 'NULL';
      if (Array.isArray(v)) return `[${v.map(element).join(',')}]`;
      throw new TsvValueError(`cannot write ${typeof v} as TabSeparated`);
  }
}

export function tsvValue(v: unknown): string {
  if (typeof v === 'string') return NEEDS_ESCAPE.test(v) ? v.replace(ESCAPE_ALL, (c) => ESCAPES[c]!) : v;
  if (v === null || v === undefined) return '\\N';
  // Numbers, booleans and arrays read the same as their literals; an array's quoted elements
  // carry their own escapes (no second layer).
  return element(v);
}

/** The columns (union of the rows' keys, first-seen order) and the TabSeparated body. */
export function toTabSeparated(rows: readonly Record<string, unknown>[]): { columns: string[]; body: string } {
  const seen = new Set<string>();
  for (const r of rows) for (const k in r) seen.add(k);
  const columns = [...seen];
  const parts: string[] = new Array(rows.length);
  const n = columns.length;
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    let line = tsvValue(r[columns[0]!]);
    for (let c = 1; c < n; c++) line += '\t' + tsvValue(r[columns[c]!]);
    parts[i] = line;
  }
  return { columns, body: parts.length ? parts.join('\n') + '\n' : '' };
}
