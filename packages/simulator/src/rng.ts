/**
 * Seeded randomness for the simulated ISP. Everything the simulator writes comes from these
 * generators, never Math.random or the clock, so one seed gives the same bytes everywhere.
 *
 * The generator is sfc32 (128-bit state) rather than the project's mulberry32
 * (`seededRandom` in @haystack/common): a large simulation draws billions of numbers, beyond
 * mulberry32's 2^32 period. Independent parts of the world (population, DNS, traffic,
 * sampling) draw from their own streams, derived from the seed and a label, so that changing
 * one parameter leaves the others' draws untouched: the same seed at 1:100 and at 1:1000 has
 * the same lines, devices, rates, DNS and truth (the traffic draws themselves differ: only
 * sampled packets are ever drawn).
 */

/** 32-bit FNV-1a over a string, then a murmur3 finaliser (good avalanche for short labels). */
export function hashString(s: string, h = 0x811c9dc5): number {
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return fmix32(h);
}

export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A stateless 32-bit hash of a few integers: stable per-object choices without a stream. */
export function hash32(a: number, b = 0, c = 0, d = 0): number {
  let h = fmix32((a ^ 0x9e3779b9) >>> 0);
  h = fmix32((h ^ Math.imul(b ^ 0x7f4a7c15, 0x27d4eb2d)) >>> 0);
  h = fmix32((h ^ Math.imul(c ^ 0x165667b1, 0x85ebca6b)) >>> 0);
  h = fmix32((h ^ Math.imul(d ^ 0x2545f491, 0xc2b2ae35)) >>> 0);
  return h;
}

const TWO32 = 4294967296;

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  /** Spare normal deviate from the polar method. */
  private spare = NaN;

  constructor(seed: number, label = '') {
    this.a = hashString(label, seed >>> 0);
    this.b = hashString(label, (seed ^ 0x5bd1e995) >>> 0);
    this.c = hashString(label, (seed ^ 0x1b873593) >>> 0);
    this.d = 1;
    // Warm-up: sfc32's first outputs are correlated with the seed words.
    for (let i = 0; i < 15; i++) this.u32();
  }

  /** A new independent stream for a sub-part (e.g. one exporter, one day). */
  derive(label: string): Rng {
    return new Rng(this.u32(), label);
  }

  u32(): number {
    const a = this.a;
    const b = this.b;
    const c = this.c;
    const d = this.d;
    const t = (((a + b) | 0) + d) | 0;
    this.d = (d + 1) | 0;
    this.a = b ^ (b >>> 9);
    this.b = (c + (c << 3)) | 0;
    this.c = ((c << 21) | (c >>> 11)) + t;
    this.c |= 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.u32() / TWO32;
  }

  /** Uniform in (0, 1]: safe for logarithms. */
  open(): number {
    return (this.u32() + 1) / TWO32;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  range(lo: number, hi: number): number {
    return lo + (hi - lo) * this.float();
  }

  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }

  /** Log-uniform in [lo, hi): rates spanning decades (100–1,000 packets per hour). */
  logUniform(lo: number, hi: number): number {
    return lo * Math.exp(Math.log(hi / lo) * this.float());
  }

  exp(mean = 1): number {
    return -Math.log(this.open()) * mean;
  }

  normal(): number {
    if (this.spare === this.spare) {
      const s = this.spare;
      this.spare = NaN;
      return s;
    }
    let u: number;
    let v: number;
    let s: number;
    do {
      u = 2 * this.float() - 1;
      v = 2 * this.float() - 1;
      s = u * u + v * v;
    } while (s >= 1 || s === 0);
    const m = Math.sqrt((-2 * Math.log(s)) / s);
    this.spare = v * m;
    return u * m;
  }

  /** Log-normal with the given median and log-space sigma. */
  logNormal(median: number, sigma: number): number {
    return median * Math.exp(sigma * this.normal());
  }

  /**
   * Poisson(lambda). Multiplication method below 10 (cost ~lambda), Hörmann's PTRS
   * transformed rejection from 10 on (constant cost, exact; valid for lambda ≥ 10).
   */
  poisson(lambda: number): number {
    if (!(lambda > 0)) return 0;
    if (lambda < 10) {
      const l = Math.exp(-lambda);
      let k = 0;
      let p = this.float();
      while (p > l) {
        k++;
        p *= this.float();
      }
      return k;
    }
    const slam = Math.sqrt(lambda);
    const loglam = Math.log(lambda);
    const b = 0.931 + 2.53 * slam;
    const a = -0.059 + 0.02483 * b;
    const invalpha = 1.1239 + 1.1328 / (b - 3.4);
    const vr = 0.9277 - 3.6224 / (b - 2);
    for (;;) {
      const u = this.float() - 0.5;
      const v = this.open();
      const us = 0.5 - Math.abs(u);
      const k = Math.floor(((2 * a) / us + b) * u + lambda + 0.43);
      if (us >= 0.07 && v <= vr) return k;
      if (k < 0 || (us < 0.013 && v > us)) continue;
      if (Math.log(v) + Math.log(invalpha) - Math.log(a / (us * us) + b) <= -lambda + k * loglam - logFactorial(k)) return k;
    }
  }

  /**
   * Binomial(n, p): counting successes by geometric skips when n·p is small (cost ~n·p),
   * a normal approximation with continuity correction when both n·p and n·(1−p) exceed 40
   * (error well below the sampling noise the simulator models).
   */
  binomial(n: number, p: number): number {
    if (n <= 0 || p <= 0) return 0;
    if (p >= 1) return n;
    if (p > 0.5) return n - this.binomial(n, 1 - p);
    const mean = n * p;
    if (mean < 40) {
      const lq = Math.log1p(-p);
      let k = 0;
      let i = Math.floor(Math.log(this.open()) / lq);
      while (i < n) {
        k++;
        i += 1 + Math.floor(Math.log(this.open()) / lq);
      }
      return k;
    }
    const x = Math.round(mean + Math.sqrt(mean * (1 - p)) * this.normal());
    return x < 0 ? 0 : x > n ? n : x;
  }
}

const LF_TABLE: number[] = [0];
for (let i = 1; i < 256; i++) LF_TABLE[i] = LF_TABLE[i - 1]! + Math.log(i);

/** ln(k!) exact from a table below 256, Stirling's series above. */
export function logFactorial(k: number): number {
  if (k < 256) return LF_TABLE[k]!;
  const x = k + 1;
  return (x - 0.5) * Math.log(x) - x + 0.5 * Math.log(2 * Math.PI) + 1 / (12 * x) - 1 / (360 * x * x * x);
}

/** Cumulative weights for repeated weighted picks (binary search). */
export class WeightedPicker {
  private readonly cum: Float64Array;
  readonly total: number;
  constructor(weights: readonly number[]) {
    this.cum = new Float64Array(weights.length);
    let s = 0;
    weights.forEach((w, i) => {
      s += Math.max(0, w);
      this.cum[i] = s;
    });
    this.total = s;
  }

  pick(r: Rng): number {
    const x = r.float() * this.total;
    let lo = 0;
    let hi = this.cum.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.cum[mid]! > x) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}
