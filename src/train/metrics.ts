// The trainer's metrics log, OUT/metrics.jsonl: one JSON object per optimizer step, appended and fsynced as the
// step ends (constant work per step; rewriting the file each step was quadratic in steps). On resume, lines of
// steps after the checkpoint — they will run again — and a torn last line are cut off once, so a resumed run ends
// with the file an uninterrupted run writes. Reading it back is `readMetrics`. No metric names here.
import { existsSync, readFileSync } from "node:fs";
import { appendDurable, writeFileAtomic } from "../util/atomic.js";

export type MetricsLine = { step: number } & Record<string, number>;

/** The complete lines of a metrics file, in order (a torn last line is not returned). */
export function readMetrics(path: string): MetricsLine[] {
  if (!existsSync(path)) throw new Error(`${path}: missing (the training run did not start or was moved)`);
  const text = readFileSync(path, "utf8");
  return text
    .slice(0, text.lastIndexOf("\n") + 1)
    .split("\n")
    .filter((l) => l !== "")
    .map((l, i) => {
      try {
        return JSON.parse(l) as MetricsLine;
      } catch {
        throw new Error(`${path}:${i + 1}: not a metrics line`);
      }
    });
}

export class MetricsLog {
  private constructor(readonly path: string) {}

  /** Starts the log empty, or (resumeStep given) keeps the lines of steps ≤ resumeStep. */
  static open(path: string, resumeStep?: number): MetricsLog {
    if (resumeStep === undefined || !existsSync(path)) writeFileAtomic(path, "");
    else {
      const text = readFileSync(path, "utf8");
      const kept = readMetrics(path)
        .filter((m) => m.step <= resumeStep)
        .map((m) => `${JSON.stringify(m)}\n`)
        .join("");
      if (kept !== text) writeFileAtomic(path, kept);
    }
    return new MetricsLog(path);
  }

  append(metrics: object): void {
    appendDurable(this.path, `${JSON.stringify(metrics)}\n`);
  }
}
