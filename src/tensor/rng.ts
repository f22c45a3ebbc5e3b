// Seeded pseudo-random numbers (xoshiro128**, seeded through SplitMix32) so that every run, test and benchmark is
// reproducible from one integer. Not cryptographic. The state is four uint32s and can be saved and restored.

export class Rng {
  private s: Uint32Array;

  constructor(seed: number) {
    this.s = new Uint32Array(4);
    let x = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      // SplitMix32 expands the seed so that nearby seeds give unrelated streams.
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
  }

  /** A uniform uint32. */
  nextUint32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform in [0, 1) with 32 random bits. */
  uniform(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }
  /** Shuffles xs in place (Fisher–Yates, from the end) and returns it. */
  shuffle<T>(xs: T[]): T[] {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [xs[i], xs[j]] = [xs[j], xs[i]];
    }
    return xs;
  }

  /** Standard normal (Box–Muller). */
  normal(): number {
    const u = 1 - this.uniform(); // (0, 1]
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.uniform());
  }

  /** A new Float32Array of n draws from N(0, std²). */
  normalArray(n: number, std = 1): Float32Array {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = this.normal() * std;
    return a;
  }

  getState(): number[] {
    return Array.from(this.s);
  }

  setState(state: readonly number[]): void {
    if (state.length !== 4) throw new Error(`Rng.setState: expected 4 words, got ${state.length}`);
    this.s.set(state);
  }
}

/** The seed of item i of a run seeded with `seed` (line, epoch, prompt…), independent of batching. */
/**
 * Seeds for independent streams: mixSeed(seed, i) is cheap and fine for xoshiro's SplitMix seeding (training order,
 * generation); hashSeed(seed, salt) is a well-mixed hash (the world's prompt and corpus draws). They differ and
 * each is pinned by what it has already produced (the shipped demo model's corpus, the demo's results).
 */
export function mixSeed(seed: number, i: number): number {
  return (Math.imul(seed, 0x9e3779b1) + i) >>> 0;
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** A well-mixed 32-bit seed for (seed, salt): nearby seeds give unrelated streams (see mixSeed). */
export function hashSeed(seed: number, salt: number): number {
  let h = Math.imul((seed >>> 0) ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(salt + 0x27d4eb2f, 0xc2b2ae35);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  return (h ^ (h >>> 12)) >>> 0;
}
