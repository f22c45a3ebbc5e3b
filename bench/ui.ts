// `npm run bench -- ui [RECORDS] [METRIC_LINES]`: `sso ui` on a large synthetic run (default 100,000 records and
// 50,000 metric lines, the sizes issue 32 names), against a small one (100 records, 50 lines) measured interleaved
// in the same process: the dashboard (`sso ui` as a child process) serves both; headless chromium opens the records
// view and the curves view of each, three times in turn. Reported: time to the first record / the first drawn
// chart (first paint of the data), time until the curves hold every metric line, and the server's resident memory
// (VmRSS now, VmHWM peak, from /proc) against the run's size on disk. The run is iterate-shaped (run.json,
// iter-1/data.jsonl, iter-1/train/metrics.jsonl) with records that pass the record schema, generated here — no
// model runs. Needs /usr/bin/chromium (or $SSO_CHROMIUM). Ends with one JSON line.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { chromium } from "playwright-core";
import { REF_COLUMNS } from "../src/sso/pairs.js";
import { SsoRecord } from "../src/sso/record.js";
import { packageRoot } from "../src/util/package-root.js";
import { round } from "./timing.js";

const FEATURES = ["Accuracy", "Helpfulness", "Logicality", "Concision", "Comprehensiveness", "Safety"];
const WORDS = "the a model answer question prompt principle steering policy reward data token weight".split(" ");

function record(i: number): SsoRecord {
  const text = (n: number, salt: number) =>
    Array.from({ length: n }, (_, j) => WORDS[(i * 7 + j * 3 + salt) % WORDS.length]).join(" ");
  const n = 8 + (i % 40);
  const r = {
    id: `synthetic:${i}`,
    prompt_index: i,
    iteration: 0,
    prompt: [{ role: "user" as const, content: `Question ${i}: ${text(12, 1)}?` }],
    chosen: [{ role: "assistant" as const, content: text(n, 2) }],
    rejected: [{ role: "assistant" as const, content: text(n + 5, 3) }],
    raw: [{ role: "assistant" as const, content: text(n - 3, 4) }],
    features: [FEATURES[i % FEATURES.length], FEATURES[(i + 2) % FEATURES.length]],
    principle_sources: ["library" as const, "library" as const],
    system_pos: `Your answer should be ${text(30, 5)}.`,
    system_neg: `Your answer should not be ${text(30, 6)}.`,
    finish_reasons: { chosen: "eos" as const, rejected: "length" as const, raw: "eos" as const },
    sampling: { temperature: 0.7, top_p: 0.8, top_k: 0, max_new_tokens: 64, raw_greedy: false },
    seed: 0,
    sample_seeds: { chosen: i, rejected: i + 1, raw: i + 2 },
    policy_model: "synthetic",
    policy_hash: "0".repeat(64),
    ...Object.fromEntries(REF_COLUMNS.map((c, k) => [c, -(n + k) * 0.9])),
    chosen_n_tokens: n + 1,
    rejected_n_tokens: n + 6,
    raw_n_tokens: n - 2,
  };
  return SsoRecord.parse(r);
}

/** An iterate-shaped run folder with `records` records and `lines` metric lines; returns its size in bytes. */
function makeRun(dir: string, records: number, lines: number): number {
  mkdirSync(join(dir, "iter-1", "train"), { recursive: true });
  writeFileSync(
    join(dir, "run.json"),
    JSON.stringify({ config: { iterate: { iterations: 1 }, train: { batchSize: 8 } } }),
  );
  const chunks: string[] = [];
  for (let i = 0; i < records; i++) chunks.push(`${JSON.stringify(record(i))}\n`);
  writeFileSync(join(dir, "iter-1", "data.jsonl"), chunks.join(""));
  chunks.length = 0;
  for (let s = 1; s <= lines; s++)
    chunks.push(
      `${JSON.stringify({ step: s, epoch: 0, loss: 1 / Math.sqrt(s) + 0.01 * Math.sin(s), "sso/W": 0.5 + 0.1 * Math.cos(s / 100), "sso/G": 10 / s, grad_norm: 1 + Math.sin(s / 7), learning_rate: 1e-5, "tokens/s": 3000 + (s % 97) })}\n`,
    );
  writeFileSync(join(dir, "iter-1", "train", "metrics.jsonl"), chunks.join(""));
  return (
    statSync(join(dir, "iter-1", "data.jsonl")).size + statSync(join(dir, "iter-1", "train", "metrics.jsonl")).size
  );
}

const memory = (pid: number) => {
  const s = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)?.[1] ?? Number.NaN);
  return { rssMB: round(kb("VmRSS") / 1024, 1), peakMB: round(kb("VmHWM") / 1024, 1) };
};

export async function benchUi(args: string[]): Promise<void> {
  const records = Number(args[0] ?? 100_000),
    lines = Number(args[1] ?? 50_000);
  const executablePath = process.env.SSO_CHROMIUM ?? "/usr/bin/chromium";
  if (!existsSync(executablePath)) throw new Error(`${executablePath}: missing (apt-get install chromium)`);
  const work = mkdtempSync(join(tmpdir(), "sso-bench-ui-"));
  const server = spawn(
    process.execPath,
    [join(packageRoot(), "dist", "src", "cli", "main.js"), "ui", "--runs", work, "--port", "0"],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  const browser = await chromium.launch({ executablePath, args: ["--no-sandbox"], timeout: 30_000 });
  try {
    const t0 = performance.now();
    const sizes = { large: makeRun(join(work, "large"), records, lines), small: makeRun(join(work, "small"), 100, 50) };
    console.log(
      `generated ${records} records + ${lines} metric lines (${(sizes.large / 2 ** 20).toFixed(0)} MiB) in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
    const url = await new Promise<string>((resolve, reject) => {
      let out = "";
      server.stdout!.on("data", (d) => {
        out += d;
        const m = /on (http:\/\/127\.0\.0\.1:\d+)\//.exec(out);
        if (m) resolve(m[1]);
      });
      server.on("exit", () => reject(new Error("sso ui exited before listening")));
    });
    const atStart = memory(server.pid!);
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.setDefaultTimeout(120_000);
    const time = async (hash: string, selector: string) => {
      await page.goto("about:blank");
      const t = performance.now();
      await page.goto(`${url}/${hash}`);
      await page.waitForSelector(selector);
      return performance.now() - t;
    };
    const rows: Record<string, number[]> = {};
    const add = (k: string, v: number) => (rows[k] ??= []).push(v);
    for (let rep = 0; rep < 3; rep++)
      for (const run of ["small", "large"]) {
        const n = run === "large" ? lines : 50;
        add(`${run} records: first record`, await time(`#/records?path=${run}/iter-1/data.jsonl`, ".record"));
        add(`${run} curves: first chart`, await time(`#/curves?run=${run}`, ".chart[data-points]"));
        add(
          `${run} curves: all ${n} steps`,
          await time(`#/curves?run=${run}`, `.chart[data-metric="loss"][data-points="${n}"]`),
        );
        add(
          `${run} search (no match, whole file)`,
          await time(`#/records?path=${run}/iter-1/data.jsonl&q=zzzz-none`, ".status-line:has-text('end of file')"),
        );
      }
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const mem = memory(server.pid!);
    console.log("\nmedian of 3, ms (small and large measured in turn, same browser and server)");
    const result: Record<string, number> = {};
    for (const [k, xs] of Object.entries(rows)) {
      console.log(`${k.padEnd(44)} ${med(xs).toFixed(0).padStart(8)}`);
      result[k] = round(med(xs), 0);
    }
    for (const k of ["records: first record", "curves: first chart"])
      console.log(`large / small, ${k}: ${(med(rows[`large ${k}`]) / med(rows[`small ${k}`])).toFixed(2)}×`);
    console.log(
      `server memory: RSS ${atStart.rssMB} MiB listening, ${mem.rssMB} MiB after all views, peak ${mem.peakMB} MiB (run files: ${(sizes.large / 2 ** 20).toFixed(0)} MiB)`,
    );
    console.log(
      JSON.stringify({
        records,
        lines,
        run_mib: round(sizes.large / 2 ** 20, 1),
        rss_start_mib: atStart.rssMB,
        ...mem,
        ...result,
      }),
    );
  } finally {
    await browser.close();
    server.kill("SIGTERM");
    rmSync(work, { recursive: true, force: true });
  }
}
