// Reusable scratch buffers. Allocating fresh Float32Arrays for every activation costs more than the arithmetic on
// a 2-core machine: each new large array is fresh memory that the kernel must fault in and zero page by page
// (a 10M-parameter training step took ~440k page faults). A Workspace keeps one buffer per tag and hands it out
// again, growing it only when a bigger one is asked for.

/** Hands out a scratch buffer of n floats (from a Workspace scope, or fresh zeros). */
export type Alloc = (n: number) => Float32Array;

export class Workspace {
  private bufs = new Map<string, Float32Array>();

  /** A buffer of n floats for this tag, holding whatever was written there last. */
  get(tag: string, n: number): Float32Array {
    let b = this.bufs.get(tag);
    if (!b || b.length < n) {
      b = new Float32Array(n);
      this.bufs.set(tag, b);
    }
    return b.length === n ? b : b.subarray(0, n);
  }

  /** Like get, but zero-filled. */
  zeros(tag: string, n: number): Float32Array {
    const b = this.get(tag, n);
    b.fill(0);
    return b;
  }

  /** An allocator that hands out tag#0, tag#1, … in call order (zeroed when asked): for code that allocates the
   *  same sequence of buffers on every call. */
  scope(tag: string, zero: boolean): (n: number) => Float32Array {
    let i = 0;
    return (n) => (zero ? this.zeros(`${tag}#${i++}`, n) : this.get(`${tag}#${i++}`, n));
  }

  /** Total floats held. */
  get size(): number {
    let n = 0;
    for (const b of this.bufs.values()) n += b.length;
    return n;
  }

  clear(): void {
    this.bufs.clear();
  }
}
