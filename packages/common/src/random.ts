/**
 * mulberry32: a tiny, fast, seeded PRNG returning floats in [0, 1). Everything Haystack
 * generates (test data, the demo, fuzzing, simulations) draws from it so that the same seed
 * gives the same bytes on every machine. Not for anything secret.
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
