// The resumable output of `sso synth`. OUT gains whole chunks of records (appended, fsynced); after each chunk a
// sidecar OUT.progress.json is replaced atomically with the next prompt index, OUT's length in bytes and the
// running counts. Why a sidecar rather than a dropped-records file: dropped prompts leave no line in OUT, so OUT
// alone cannot tell where to restart, and the counts (dropped by reason, feature histogram) must survive a crash
// for the summary to equal an uninterrupted run's; one small atomic file says both. On a rerun OUT is cut back to
// the recorded length (losing at most the chunk in flight) and synthesis continues at the recorded index; a rerun
// with different inputs (config, model, prompts, features) is refused, naming the first difference.
// The log-prob ordering filter is a final pass: OUT is replaced atomically by its filtered self, with the sidecar
// naming the filtered file's sha256 first so that a crash around the swap is recognised.
import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { appendDurable, writeFileAtomic } from "../util/atomic.js";
import { fingerprintDifference } from "../util/fingerprint.js";
import { toJsonl } from "../util/jsonl.js";
import type { SsoRecord } from "./record.js";
import { applyLogpOrder, type StageSeconds, type SynthCounts, zeroSeconds } from "./synth-summary.js";

interface ProgressState {
  version: 1;
  /** Everything the records depend on; a resume must match it exactly. */
  fingerprint: Record<string, unknown>;
  phase: "chunks" | "filtering" | "done";
  next_index: number;
  /** OUT's length after the last complete chunk. */
  bytes: number;
  counts: SynthCounts;
  seconds: StageSeconds;
  /** During the ordering filter's swap: the filtered file's hash and length and the counts after it. */
  filtered?: { sha256: string; bytes: number; counts: SynthCounts };
}

const sha256 = (data: string | Buffer): string => createHash("sha256").update(data).digest("hex");

export class SynthOutput {
  readonly progressPath: string;
  readonly summaryPath: string;
  private constructor(
    readonly path: string,
    private state: ProgressState,
  ) {
    this.progressPath = `${path}.progress.json`;
    this.summaryPath = `${path}.summary.json`;
  }

  get next(): number {
    return this.state.next_index;
  }
  get counts(): SynthCounts {
    return structuredClone(this.state.counts);
  }
  get seconds(): StageSeconds {
    return { ...this.state.seconds };
  }
  get done(): boolean {
    return this.state.phase === "done";
  }

  /** Starts OUT, or takes up an earlier run's (cutting off a partial chunk); refuses one made from other inputs. */
  static open(path: string, fingerprint: Record<string, unknown>, counts: SynthCounts): SynthOutput {
    const progressPath = `${path}.progress.json`;
    if (!existsSync(progressPath)) {
      if (existsSync(path) && statSync(path).size > 0)
        throw new Error(
          `${path}: exists but ${progressPath} does not, so it was not written by sso synth (or the progress file was removed); move it away to start over`,
        );
      const out = new SynthOutput(path, {
        version: 1,
        fingerprint,
        phase: "chunks",
        next_index: 0,
        bytes: 0,
        counts,
        seconds: zeroSeconds(),
      });
      writeFileSync(path, "");
      out.save();
      return out;
    }
    let state: ProgressState;
    try {
      state = JSON.parse(readFileSync(progressPath, "utf8")) as ProgressState;
    } catch (e) {
      throw new Error(
        `${progressPath}: unreadable (${(e as Error).message.split("\n")[0]}); move it and ${path} away to start over`,
      );
    }
    if (state.version !== 1) throw new Error(`${progressPath}: unknown version ${JSON.stringify(state.version)}`);
    const diff = fingerprintDifference(state.fingerprint, fingerprint);
    if (diff)
      throw new Error(
        `${path}: was started with other inputs (${diff}); rerun with the same ones, or move ${path} and ${progressPath} away to start over`,
      );
    if (!existsSync(path) && state.bytes === 0 && state.phase === "chunks") writeFileSync(path, "");
    const size = existsSync(path) ? statSync(path).size : -1;
    if (
      state.phase === "filtering" &&
      size === state.filtered!.bytes &&
      sha256(readFileSync(path)) === state.filtered!.sha256
    ) {
      state = {
        ...state,
        phase: "done",
        bytes: state.filtered!.bytes,
        counts: state.filtered!.counts,
        filtered: undefined,
      }; // the swap happened
    } else if (state.phase === "filtering") {
      state = { ...state, phase: "chunks", filtered: undefined }; // it did not: OUT is still the unfiltered set
    }
    if (size < state.bytes)
      throw new Error(
        `${path}: ${size < 0 ? "is missing" : `has ${size} bytes`} but ${progressPath} records ${state.bytes}; move both away to start over`,
      );
    if (size > state.bytes) truncateSync(path, state.bytes);
    const out = new SynthOutput(path, state);
    if (state.phase === "done") out.save();
    return out;
  }

  private save(): void {
    writeFileAtomic(this.progressPath, `${JSON.stringify(this.state)}\n`);
  }

  /** Appends a chunk's records (fsynced), then records the new position and totals. */
  appendChunk(records: readonly SsoRecord[], next: number, counts: SynthCounts, seconds: StageSeconds): void {
    if (this.state.phase !== "chunks") throw new Error(`${this.path}: synthesis is already finished`);
    const bytes = appendDurable(this.path, toJsonl(records));
    this.state = { ...this.state, next_index: next, bytes: this.state.bytes + bytes, counts, seconds };
    this.save();
  }

  /** The records in OUT. */
  readRecords(): SsoRecord[] {
    return readFileSync(this.path, "utf8")
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => JSON.parse(l) as SsoRecord);
  }

  /**
   * Ends the run: applies the ordering filter to the whole of OUT when asked (atomically), marks the progress file
   * done, and returns the final records and counts (filtered: whether the filter ran now). A finished run returns
   * them unchanged.
   */
  finish(logpOrder: boolean): { records: SsoRecord[]; counts: SynthCounts; seconds: StageSeconds; filtered: boolean } {
    const records = this.readRecords();
    if (this.state.phase === "done") return { records, counts: this.counts, seconds: this.seconds, filtered: false };
    if (!logpOrder) {
      this.state = { ...this.state, phase: "done" };
      this.save();
      return { records, counts: this.counts, seconds: this.seconds, filtered: false };
    }
    const t0 = performance.now();
    const filtered = applyLogpOrder(records, this.state.counts);
    const text = toJsonl(filtered.records);
    this.state = {
      ...this.state,
      phase: "filtering",
      filtered: { sha256: sha256(text), bytes: Buffer.byteLength(text), counts: filtered.counts },
    };
    this.save();
    writeFileAtomic(this.path, text);
    const seconds = { ...this.state.seconds, filter: this.state.seconds.filter + (performance.now() - t0) / 1000 };
    this.state = {
      ...this.state,
      phase: "done",
      bytes: Buffer.byteLength(text),
      counts: filtered.counts,
      seconds,
      filtered: undefined,
    };
    this.save();
    return { records: filtered.records, counts: this.counts, seconds, filtered: true };
  }

  writeSummary(summary: unknown): void {
    writeFileAtomic(this.summaryPath, `${JSON.stringify(summary, null, 2)}\n`);
  }
}
