import { printable } from '@haystack/common';

/**
 * What an input produced and what it had to skip. Malformed lines are never fatal: they are
 * counted per reason, the first few are kept with file and line for the operator, and the
 * valid lines around them are used.
 */
export interface SkipSample {
  file: string;
  line: number;
  reason: string;
}

export interface InputReportJSON {
  input: string;
  lines: number;
  records: number;
  skipped: Record<string, number>;
  samples: SkipSample[];
  warnings: string[];
}

export class InputReport {
  lines = 0;
  /** Usable records (or observations) delivered. */
  records = 0;
  /** Lines or values that were well-formed but not needed (other record types, outside the window, ...). */
  readonly ignored = new Map<string, number>();
  readonly skipped = new Map<string, number>();
  readonly samples: SkipSample[] = [];
  readonly warnings: string[] = [];

  constructor(
    readonly input: string,
    private readonly maxSamples = 20,
  ) {}

  skip(line: number, reason: string, detail?: string): void {
    this.skipped.set(reason, (this.skipped.get(reason) ?? 0) + 1);
    // Samples end up on terminals and in JSON reports: escaped and short, never raw bytes.
    if (this.samples.length < this.maxSamples) this.samples.push({ file: this.input, line, reason: detail ? `${reason}: ${printable(detail, 100)}` : reason });
  }

  ignore(reason: string): void {
    this.ignored.set(reason, (this.ignored.get(reason) ?? 0) + 1);
  }

  warn(message: string): void {
    this.warnings.push(message);
  }

  get skippedTotal(): number {
    let n = 0;
    for (const v of this.skipped.values()) n += v;
    return n;
  }

  toJSON(): InputReportJSON & { ignored: Record<string, number> } {
    return {
      input: this.input,
      lines: this.lines,
      records: this.records,
      skipped: Object.fromEntries([...this.skipped].sort()),
      ignored: Object.fromEntries([...this.ignored].sort()),
      samples: this.samples,
      warnings: this.warnings,
    };
  }
}
