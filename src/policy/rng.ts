/**
 * Randomness for the policies: a seeded generator and a draw from probabilities. Policies never call
 * `Math.random`; the caller injects an `Rng`, so production seeds one per app and tests replay exactly.
 */

/** Uniform numbers in [0, 1). */
export type Rng = () => number;

/** mulberry32: small, fast and good enough for drawing models (not for secrets). */
export function seededRng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The index drawn from `probabilities` (summing to 1), or -1 when there are none. */
export function draw(probabilities: readonly number[], rng: Rng): number {
  const u = rng();
  let cumulative = 0;
  let last = -1;
  for (const [i, p] of probabilities.entries()) {
    if (p <= 0) continue;
    cumulative += p;
    last = i;
    if (u < cumulative) return i;
  }
  // Rounding can leave the sum just below u: the last model that could be drawn takes the rest.
  return last;
}
