// Shared test helpers: seeded random tensors, closeness assertions, finite differences, tiny random chat models,
// self-removing temp folders, and running the built CLI.
import assert from "node:assert/strict";
import { type ChildProcess, type SpawnOptions, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getBackend } from "../src/backends/index.js";
import { parseConfig } from "../src/model/config.js";
import { initModel, saveModel } from "../src/model/folder.js";
import type { Rng } from "../src/tensor/rng.js";
import { writeByteLevelTokenizer } from "../src/tokenizer/byte-level.js";
import { Tokenizer } from "../src/tokenizer/tokenizer.js";
import { packageRoot } from "../src/util/package-root.js";

// ---- temp folders ----

const tempDirs: string[] = [];
let cleanupRegistered = false;

/** A fresh folder under the system temp dir, removed (with its contents) when the test process exits. */
export function tempDir(prefix = "sso-test-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  if (!cleanupRegistered) {
    cleanupRegistered = true;
    process.on("exit", () => {
      for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
    });
  }
  return dir;
}

// ---- the command line ----

/** The built CLI entry point. */
export const CLI = join(packageRoot(), "dist", "src", "cli", "main.js");

export interface CliResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `sso ARGS…` to completion and captures its output (killed after 10 minutes, so a hang fails the test). */
export function runCli(...args: string[]): CliResult {
  return runCliWith({}, ...args);
}

/** runCli with text on stdin and/or a shorter time limit in ms (a run past it is killed: status null). */
export function runCliWith(opts: { input?: string; timeout?: number }, ...args: string[]): CliResult {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: "utf8",
    input: opts.input,
    timeout: opts.timeout ?? 600_000,
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** Starts `sso ARGS…` in the background (for runs a test kills, or servers). */
export function spawnCli(args: string[], options: SpawnOptions = { stdio: "ignore" }): ChildProcess {
  return spawn(process.execPath, [CLI, ...args], options);
}

/**
 * Starts `sso serve ARGS… --port 0` in the background and resolves with the server and its base URL (without /v1)
 * once it listens, plus a promise of its exit code.
 */
export async function startServe(
  args: string[],
): Promise<{ server: ChildProcess; url: string; exited: Promise<number | null> }> {
  const server = spawnCli(["serve", ...args, "--port", "0"], { stdio: ["ignore", "pipe", "pipe"] });
  const exited = new Promise<number | null>((resolve) => server.on("exit", resolve));
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    server.stdout!.on("data", (d) => {
      out += d;
      const m = /on (http:\/\/127\.0\.0\.1:\d+)\/v1/.exec(out);
      if (m) resolve(m[1]);
    });
    server.on("exit", () => reject(new Error("sso serve exited before listening")));
  });
  return { server, url, exited };
}

/** Asserts a CLI run failed with a non-zero exit and exactly one line on stderr that matches pattern. */
export function assertOneLineError(r: CliResult, pattern: RegExp | string, label = ""): void {
  const at = label ? `${label}: ` : "";
  assert.ok(
    r.status !== 0 && r.status !== null,
    `${at}expected a non-zero exit, got ${r.status ?? r.signal} (stderr: ${r.stderr})`,
  );
  assert.equal(r.stderr.trim().split("\n").length, 1, `${at}expected one line, got: ${r.stderr}`);
  if (typeof pattern === "string")
    assert.ok(r.stderr.includes(pattern), `${at}stderr "${r.stderr.trim()}" lacks "${pattern}"`);
  else assert.match(r.stderr, pattern, at);
}

export type Vec = Float32Array | Float64Array;

export function randn(rng: Rng, n: number, std = 1): Float32Array {
  return rng.normalArray(n, std);
}

export function randInts(rng: Rng, n: number, limit: number): Int32Array {
  const a = new Int32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.int(limit);
  return a;
}

/** Cumulative offsets of ragged sequence lengths: [3, 5] → [0, 3, 8]. */
export function cuSeqlens(lengths: readonly number[]): Int32Array {
  const cu = new Int32Array(lengths.length + 1);
  lengths.forEach((l, i) => (cu[i + 1] = cu[i] + l));
  return cu;
}

export interface Tolerance {
  rtol: number;
  atol: number;
}

/** Asserts |actual − expected| ≤ atol + rtol·|expected| element-wise; the message names the worst element. */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: Tolerance,
  label: string,
): void {
  assert.equal(actual.length, expected.length, `${label}: length ${actual.length} != ${expected.length}`);
  let worst = -1,
    worstExcess = 0;
  for (let i = 0; i < actual.length; i++) {
    const excess = Math.abs(actual[i] - expected[i]) - (tol.atol + tol.rtol * Math.abs(expected[i]));
    if (!(excess <= 0) && (worst < 0 || !(excess <= worstExcess))) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst >= 0) {
    assert.fail(
      `${label}: element ${worst} is ${actual[worst]}, expected ${expected[worst]} (rtol ${tol.rtol}, atol ${tol.atol})`,
    );
  }
}

export const copy = <T extends Vec>(x: T): T => x.slice() as T;

// ---- finite differences (float64, on the reference kernels) ----
export const EPS = 1e-6;
export const GRADCHECK_TOL = { rtol: 1e-6, atol: 1e-7 };

export function rand64(rng: Rng, n: number, std = 1): Float64Array {
  return Float64Array.from(rng.normalArray(n, std));
}

/**
 * forward(inputs) returns the outputs as one array; backward(inputs, dOut) returns the analytic gradient of each
 * named input (accumulated into zeros). Checks every element of every named input.
 */
export function gradcheck(
  label: string,
  inputs: Record<string, Float64Array>,
  forward: () => Float64Array,
  backward: (dOut: Float64Array) => Record<string, Float64Array>,
  rng: Rng,
): void {
  const R = rand64(rng, forward().length);
  const loss = (): number => forward().reduce((s, o, i) => s + o * R[i], 0);
  const analytic = backward(R);
  for (const [name, x] of Object.entries(inputs)) {
    const numeric = new Float64Array(x.length);
    for (let i = 0; i < x.length; i++) {
      const keep = x[i];
      x[i] = keep + EPS;
      const up = loss();
      x[i] = keep - EPS;
      const down = loss();
      x[i] = keep;
      numeric[i] = (up - down) / (2 * EPS);
    }
    assertClose(analytic[name], numeric, GRADCHECK_TOL, `${label} d${name}`);
  }
}

/** Asserts max|actual − expected| ≤ rel · max|expected|: relative error in the max norm, as the golden tests state it. */
export function assertRelMax(actual: ArrayLike<number>, expected: ArrayLike<number>, rel: number, label: string): void {
  assert.equal(actual.length, expected.length, `${label}: length ${actual.length} != ${expected.length}`);
  let maxDiff = 0,
    maxRef = 0,
    at = -1;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    if (!(d <= maxDiff)) [maxDiff, at] = [d, i];
    maxRef = Math.max(maxRef, Math.abs(expected[i]));
  }
  if (!(maxDiff <= rel * maxRef)) {
    assert.fail(
      `${label}: relative error ${(maxDiff / maxRef).toExponential(2)} > ${rel} (element ${at}: ${actual[at]} vs ${expected[at]})`,
    );
  }
}

// ---- tiny random models ----

/** The shape shorthand of the synthesis tests: hidden_size, num_hidden_layers, intermediate_size. */
export interface TinyShape {
  hidden?: number;
  layers?: number;
  intermediate?: number;
}

/**
 * A freshly initialised Qwen2-style model folder with the byte-level ChatML tokenizer, in a new temp dir (removed
 * at exit). Its context (4096) fits the few-shot selection prompt at one token per byte. The second argument holds
 * config.json keys that override the defaults, and/or the TinyShape shorthand.
 */
export function makeTinyModel(seed = 3, config: Record<string, unknown> & TinyShape = {}): string {
  const work = tempDir("sso-tiny-model-");
  const tok = join(work, "tok"),
    dir = join(work, "model");
  writeByteLevelTokenizer(tok);
  const { hidden, layers, intermediate, ...keys } = config;
  const raw = {
    model_type: "qwen2",
    vocab_size: Tokenizer.fromDir(tok).vocabSize,
    hidden_size: 64,
    intermediate_size: 128,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    max_position_embeddings: 4096,
    tie_word_embeddings: true,
    ...(hidden !== undefined && { hidden_size: hidden }),
    ...(layers !== undefined && { num_hidden_layers: layers }),
    ...(intermediate !== undefined && { intermediate_size: intermediate }),
    ...keys,
  };
  saveModel(initModel(parseConfig(raw), seed, getBackend("cpu")), dir, { dtype: "F32", carryFrom: tok });
  return dir;
}
