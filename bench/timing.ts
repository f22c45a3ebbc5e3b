// Timing helpers for benchmarks: warm up, repeat until a time budget is spent, report the median run.
import { performance } from "node:perf_hooks";

export interface Timing {
  medianMs: number;
  bestMs: number;
  runs: number;
}

/** Runs fn once to warm up, then at least minRuns times and until budgetMs has elapsed; median and best run. */
export function time(fn: () => void, budgetMs = 400, minRuns = 3): Timing {
  fn();
  const samples: number[] = [];
  const start = performance.now();
  while (samples.length < minRuns || performance.now() - start < budgetMs) {
    const t0 = performance.now();
    fn();
    samples.push(performance.now() - t0);
  }
  samples.sort((a, b) => a - b);
  return { medianMs: samples[Math.floor(samples.length / 2)], bestMs: samples[0], runs: samples.length };
}

export const round = (x: number, digits = 2): number => Number(x.toFixed(digits));
