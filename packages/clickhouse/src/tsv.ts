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

/** `n` as decimal digits at `p` (what String(n) gives for an integer in [0, 2^32)); returns the new end. */
function writeUint(b: Buffer, p: number, n: number): number {
  if (n < 10) {
    b[p] = 48 + n;
    return p + 1;
  }
  let digits = 0;
  for (let x = n; x > 0; x = Math.floor(x / 10)) digits++;
  let q = p + digits;
  for (let x = n; x > 0;) {
    const d = x % 10;
    b[--q] = 48 + d;
    x = (x - d) / 10;
  }
  return p + digits;
}

/** `b` with room for `need` more bytes after `p` (doubled, the written part copied). */
function grow(b: Buffer, p: number, need: number): Buffer {
  const g = Buffer.allocUnsafe(Math.max(b.length * 2, p + need));
  b.copy(g, 0, 0, p);
  return g;
}

/** Strings up to this many characters fit in a row's reserve; longer ones reserve their own room. */
const SHORT = 1024;
const utf8Write = (b: Buffer, s: string, p: number): number => (b as unknown as { utf8Write(s: string, o: number): number }).utf8Write(s, p);

/**
 * The columns (union of the rows' keys, first-seen order) and the TabSeparated body as UTF-8.
 * Written straight into a Buffer, value by value: building one string per row, joining them
 * and encoding the result cost 5-10 times as much on 160k evidence rows (0.4-0.9 s against
 * 0.11 s), and the detector inserts that many at once under load. `scratch`: memory to write
 * into (grown when too small: the body is then in a new buffer). Fresh memory costs more here
 * than the encoding (page faults: 28 MB took 0.25 s on the 2-core VM), so callers reuse it:
 * `buffer` is what the body was written into, to pass as the next scratch.
 */
export function toTabSeparated(rows: readonly Record<string, unknown>[], scratch?: Buffer): { columns: string[]; body: Buffer; buffer: Buffer } {
  const seen = new Set<string>();
  for (const r of rows) for (const k in r) seen.add(k);
  const columns = [...seen];
  const n = columns.length;
  // ~10 bytes a value on detector rows; grown by doubling when short.
  let b: Buffer = scratch ?? Buffer.allocUnsafe(Math.max(1 << 16, rows.length * 16 * n));
  // Room reserved per row: each value a number (at most 24 characters), a short string (3 bytes
  // a character at most) or a longer one that checks for itself, with its separator.
  const reserve = Math.max(1 << 16, n * (3 * SHORT + 32));
  let p = 0;
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    if (p + reserve > b.length) b = grow(b, p, reserve);
    for (let c = 0; c < n; c++) {
      if (c > 0) b[p++] = 9;
      let v = r[columns[c]!];
      if (typeof v === 'string') {
        if (NEEDS_ESCAPE.test(v)) v = tsvValue(v);
      } else if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < 4294967296) {
        p = writeUint(b, p, v);
        continue;
      } else v = tsvValue(v);
      const t = v as string;
      if (t.length > SHORT && p + 3 * t.length + reserve > b.length) b = grow(b, p, 3 * t.length + reserve);
      p += utf8Write(b, t, p);
    }
    b[p++] = 10;
  }
  return { columns, body: b.subarray(0, p), buffer: b };
}
