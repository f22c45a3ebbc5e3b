// `sso demo` pipeline on a tiny random model (the shipped demo model is tested elsewhere): base evaluation, one
// iteration of each default method, the table, report.html with its charts, demo.json and the aligned model.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { getBackend } from "../../src/backends/index.js";
import {
  type DemoResult,
  htmlReport,
  iterationRows,
  lengthRows,
  markdownTable,
  meanStdRows,
  pairedRows,
  versusBaseMeanStdRows,
} from "../../src/demo/report.js";
import { uiCommand } from "../../src/demo/run.js";
import type { PairwiseSummary } from "../../src/eval/pairwise.js";
import { loadModel } from "../../src/model/folder.js";
import type { WorldSummary } from "../../src/world/evaluate.js";
import { assertOneLineError, makeTinyModel, runCli, tempDir } from "../helpers.js";

const sso = runCli;

describe("sso demo", () => {
  it("evaluates base and each method, prints the table, writes report.html, demo.json and the aligned model", () => {
    const work = tempDir("sso-demo-"),
      model = makeTinyModel(3, { tie_word_embeddings: false });
    const out = join(work, "run");
    const r = sso(
      "demo",
      "--model",
      model,
      "--out",
      out,
      "--iterations",
      "1",
      "--train-prompts",
      "8",
      "--eval-prompts",
      "6",
      "--max-new-tokens",
      "12",
    );
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.split("\n");
    assert.equal(
      lines.filter((l) => l !== "").at(-1),
      `live dashboard of this run (curves, records, evaluations): ${uiCommand(out)}`,
    );
    const header = lines.find((l) => l.startsWith("model "));
    assert.ok(header?.includes("Accuracy") && header.includes("overall") && header.includes("mean chars"), r.stdout);
    for (const name of ["base", "sso", "pbaa"])
      assert.ok(
        lines.some((l) => l.startsWith(`${name} `)),
        `row ${name}`,
      );
    const vsHeader = lines.findIndex((l) => l.startsWith("method ") && l.includes("LC win rate % [95% CI]"));
    assert.ok(vsHeader > 0, r.stdout);
    for (const [k, name] of ["sso", "pbaa"].entries())
      assert.match(
        lines[vsHeader + 1 + k],
        new RegExp(`^${name}\\s+\\d+\\.\\d \\[\\d+\\.\\d, \\d+\\.\\d\\]\\s+\\d+\\.\\d \\[`),
      );
    const html = readFileSync(join(out, "report.html"), "utf8");
    assert.ok(
      html.includes("<table>") && (html.match(/class="sso-chart"/g) ?? []).length === 4,
      "table and four charts",
    );
    assert.ok(
      html.includes("Against the base model") && html.includes('<table class="sbs">'),
      "win rates, side by side",
    );
    assert.ok(html.includes("Self-steered pairs"), "the judged pairs");
    assert.match(html, /Per prompt family[\s\S]*<th>all \(\d+\)<\/th><th>fact \(\d+\)<\/th>/, "the per-family table");
    const demo = JSON.parse(readFileSync(join(out, "demo.json"), "utf8"));
    assert.deepEqual(
      demo.runs.map((x: { method: string }) => x.method),
      ["sso", "pbaa"],
    );
    assert.equal(demo.runs[0].evals.length, 1);
    assert.equal(demo.runs[0].pairs.length, 1);
    const vs = demo.runs[0].vs_base;
    assert.equal(vs.n, 6);
    assert.equal(vs.wins + vs.losses + vs.ties + vs.unparsed, 6);
    assert.equal(vs.inconsistent, 0, "the world judge does not depend on the order");
    assert.ok(demo.runs[0].pairs[0].records >= 0 && demo.runs[0].pairs[0].records <= 8);
    assert.ok(existsSync(join(out, "aligned-model", "model.safetensors")));
    loadModel(join(out, "aligned-model"), getBackend("ref"));
  });

  it("--methods runs only the named methods with --beta in every config; an unknown method is a one-line error", () => {
    const work = tempDir("sso-demo-"),
      model = makeTinyModel(4, { tie_word_embeddings: false });
    const out = join(work, "run");
    const r = sso(
      "demo",
      "--model",
      model,
      "--out",
      out,
      "--iterations",
      "1",
      "--train-prompts",
      "6",
      "--eval-prompts",
      "4",
      "--max-new-tokens",
      "8",
      "--methods",
      "sso-no-g",
      "--beta",
      "0.7",
    );
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(
      JSON.parse(readFileSync(join(out, "demo.json"), "utf8")).runs.map((x: { method: string }) => x.method),
      ["sso-no-g"],
    );
    assert.deepEqual(JSON.parse(readFileSync(join(out, "sso-no-g", "run.json"), "utf8")).config.train.objective, {
      preset: "sso-no-g",
      beta: 0.7,
    });
    assert.ok(existsSync(join(out, "aligned-model", "model.safetensors")), "aligned model from the only method run");
    const bad = sso("demo", "--model", model, "--out", join(work, "bad"), "--methods", "sso,ssoo");
    assertOneLineError(bad, /--methods: unknown method ssoo/);
  });

  it("--seeds runs the demo once per seed and writes the mean ± std summary", () => {
    const work = tempDir("sso-demo-"),
      model = makeTinyModel(5, { tie_word_embeddings: false });
    const out = join(work, "run");
    const args = ["demo", "--model", model, "--out", out, "--iterations", "1", "--train-prompts", "6"];
    const rest = ["--eval-prompts", "4", "--max-new-tokens", "8", "--methods", "pbaa", "--seeds"];
    const r = sso(...args, ...rest, "1,2");
    assert.equal(r.status, 0, r.stderr);
    for (const seed of [1, 2])
      assert.equal(JSON.parse(readFileSync(join(out, `seed-${seed}`, "demo.json"), "utf8")).options.seed, seed);
    const md = readFileSync(join(out, "summary.md"), "utf8");
    assert.match(md, /^\| pbaa \| \d+\.\d ± \d+\.\d \|/m);
    // The per-family table (seeded draws: pass rates only; the paired one needs the whole pool).
    assert.match(
      md,
      /per prompt family[^|]*\| model \| all \(4\) \| fact \(\d\) \| list \(\d\) \| arith \(\d\) \| harmful \(\d\) \|/,
    );
    assert.match(md, /^\| pbaa \| \d+\.\d ± \d+\.\d \| (–|\d+\.\d ± \d+\.\d) \|/m);
    assert.doesNotMatch(md, /Paired difference against SSO per family/);
    assert.match(r.stdout, /mean ± std over seeds 1, 2/);
    // A rerun with the same options reuses every finished seed (seeds may run in separate processes) and writes the
    // same summary; with a changed option the seed is not reused (and its run directories refuse the new inputs).
    const again = sso(...args, ...rest, "1,2");
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stderr, /seed 1 already finished with these options/);
    assert.match(again.stderr, /seed 2 already finished with these options/);
    assert.doesNotMatch(again.stderr, /— pbaa/);
    assert.equal(readFileSync(join(out, "summary.md"), "utf8"), md);
    const changed = sso(...args, ...rest.map((a) => (a === "8" ? "6" : a)), "2");
    assert.doesNotMatch(changed.stderr, /already finished/);
    assert.notEqual(changed.status, 0);
    assert.match(changed.stderr, /seed-2\/pbaa\/run\.json: this run directory was started with other inputs/);
    const bad = sso("demo", "--model", model, "--out", join(work, "bad"), "--seeds", "1,x");
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /--seeds must be comma-separated integers/);
  });

  it("--methods sso-v2 runs the v2 pipeline: a generator per iteration, the policy on plain IPO", () => {
    const work = tempDir("sso-demo-"),
      model = makeTinyModel(6, { tie_word_embeddings: false });
    const out = join(work, "run");
    const r = sso(
      "demo",
      ...["--model", model, "--out", out, "--iterations", "1", "--train-prompts", "6", "--eval-prompts", "4"],
      ...["--max-new-tokens", "8", "--methods", "sso-v2"],
    );
    assert.equal(r.status, 0, r.stderr);
    const run = JSON.parse(readFileSync(join(out, "sso-v2", "run.json"), "utf8"));
    assert.equal(run.config.iterate.mode, "v2");
    assert.deepEqual(run.config.train.objective, { preset: "ipo" });
    assert.ok(existsSync(join(out, "sso-v2", "iter-1", "generator", "train", "model", "model.safetensors")));
    const demo = JSON.parse(readFileSync(join(out, "demo.json"), "utf8"));
    assert.equal(demo.runs[0].method, "sso-v2");
    assert.equal(demo.runs[0].scores.length, 4);
    assert.equal(demo.prompt_ids.length, 4);
  });

  it("pairedRows: each method minus SSO per (seed, prompt) in points with its interval; lengthRows: growth", () => {
    const summary = (mean_chars: number) => ({ overall: 0.5, mean_chars }) as unknown as WorldSummary;
    const seed = (sso: number[], pbaa: number[], base: number[], chars: number[]): DemoResult => ({
      base: summary(chars[0]),
      features: [],
      prompt_ids: ["a#0", "b#0"],
      base_scores: base,
      runs: [
        { method: "sso", evals: [summary(chars[1]), summary(chars[2])], steps: [], scores: sso },
        { method: "pbaa", evals: [summary(chars[3]), summary(chars[4])], steps: [], scores: pbaa },
      ],
    });
    // PBAA − SSO: +0.5 on every cell of seed 1 and 0 on seed 2 → mean 25 points; resampling the seeds as units
    // gives 0, 25 or 50 points (odds ¼, ½, ¼), so the interval is [0, 50]. Base − SSO is −100 everywhere.
    const results = [
      seed([0.5, 0.5], [1, 1], [-0.5, -0.5], [30, 31, 32, 30, 40]),
      seed([1, 1], [1, 1], [0, 0], [30, 29, 30, 30, 44]),
    ];
    assert.deepEqual(pairedRows(results, "sso", { samples: 4000 }), [
      ["method", "minus sso (points)", "95% CI", "seeds × prompts"],
      ["base", "-100.00", "[-100.00, -100.00]", "2 × 2"],
      ["pbaa", "25.00", "[0.00, 50.00]", "2 × 2"],
    ]);
    assert.deepEqual(lengthRows(results), [
      ["method", "iteration 0", "iteration 1", "iteration 2", "growth"],
      ["sso", "30.0", "30.0", "31.0", "+1.0"],
      ["pbaa", "30.0", "30.0", "42.0", "+12.0"],
    ]);
    assert.throws(
      () => pairedRows([results[0], { ...results[1], prompt_ids: ["c#0", "b#0"] }]),
      /same held-out prompts/,
    );
  });

  it("iterationRows: the base then each iteration's overall pass rate per method", () => {
    const summary = (overall: number) => ({ overall }) as unknown as WorldSummary;
    const d: DemoResult = {
      base: summary(0.5),
      features: [],
      runs: [
        { method: "sso", evals: [summary(0.6), summary(0.75)], steps: [] },
        { method: "pbaa", evals: [summary(0.55)], steps: [] },
      ],
    };
    assert.deepEqual(iterationRows(d), [
      ["method", "iteration 0", "iteration 1", "iteration 2"],
      ["sso", "50.0", "60.0", "75.0"],
      ["pbaa", "50.0", "55.0", "–"],
    ]);
  });

  it("htmlReport: four charts carry every method's numbers, with the dashboard's chart code inline", () => {
    const summary = { overall: 0.5, mean_chars: 30, features: {} } as unknown as WorldSummary;
    const methods = ["sso", "pbaa", "sso-no-w", "sso-no-g", "sso-backdoor", "sso-dpo"];
    const d: DemoResult = {
      base: summary,
      features: [],
      runs: methods.map((method, k) => ({
        method,
        evals: [summary],
        steps: [
          { loss: k, W: 1, G: k, iteration: 1 },
          { loss: k + 1, W: 0.5, G: 0, iteration: 1 },
        ],
      })),
    };
    const html = htmlReport(d, "t", "n");
    const unesc = (s: string) =>
      s
        .replace(/&quot;/g, '"')
        .replace(/&lt;/g, "<")
        .replace(/&gt;/g, ">")
        .replace(/&amp;/g, "&");
    const specs = [...html.matchAll(/class="sso-chart" data-chart="([^"]*)"/g)].map((m) => JSON.parse(unesc(m[1])));
    assert.deepEqual(
      specs.map((s) => s.title),
      ["loss per step", "W (mean) per step", "G per step", "overall held-out pass rate per iteration (0 = base)"],
    );
    for (const s of specs)
      assert.deepEqual(
        s.series.map((x: { name: string }) => x.name),
        methods,
      );
    assert.deepEqual(specs[0].series[2].ys, [2, 3]);
    assert.deepEqual(specs[3].series[0].ys, [0.5, 0.5]);
    assert.equal(specs[3].x0, 0);
    assert.ok(html.includes("<script>") && html.includes(".sso-chart"), "the chart bundle is inline");
    assert.ok(!/<script[^>]+src=|<link[^>]+href=/.test(html), "nothing is loaded from elsewhere");
  });

  it("versusBaseMeanStdRows: win rate and LC win rate as mean ± sample std over seeds", () => {
    const result = (win: number, lc: number): DemoResult => ({
      base: {} as WorldSummary,
      features: [],
      runs: [{ method: "sso", evals: [], steps: [], vs_base: { win_rate: win, lc_win_rate: lc } as PairwiseSummary }],
    });
    assert.deepEqual(versusBaseMeanStdRows([result(0.5, 0.6), result(0.7, 0.6), result(0.6, 0.6)]), [
      ["method", "win rate %", "LC win rate %"],
      ["sso", "60.0 ± 10.0", "60.0 ± 0.0"],
    ]);
  });

  it("meanStdRows: mean ± sample std per cell over seeds; markdownTable; different methods are refused", () => {
    const summary = (acc: number | null, overall: number, chars: number) =>
      ({
        overall,
        mean_chars: chars,
        features: { Accuracy: { rate: acc }, Safety: { rate: null } },
      }) as unknown as WorldSummary;
    const result = (a: number, b: number, method = "sso"): DemoResult => ({
      base: summary(0.5, 0.5, 30),
      features: ["Accuracy", "Safety"],
      runs: [{ method, evals: [summary(a, b, 20 + 10 * a)], steps: [] }],
    });
    const rows = meanStdRows([result(0.6, 0.7), result(0.8, 0.9), result(1, 0.8)]);
    assert.deepEqual(rows, [
      ["model", "Accuracy", "Safety", "overall", "well-formed", "mean chars"],
      ["base", "50.0 ± 0.0", "–", "50.0 ± 0.0", "–", "30 ± 0"],
      ["sso", "80.0 ± 20.0", "–", "80.0 ± 10.0", "–", "28 ± 2"],
    ]);
    assert.equal(
      markdownTable([
        ["a", "b"],
        ["1", "2"],
      ]),
      "| a | b |\n| --- | --- |\n| 1 | 2 |",
    );
    assert.throws(() => meanStdRows([result(0.6, 0.7), result(0.6, 0.7, "pbaa")]), /different methods/);
  });

  it("a missing demo model is a one-line error saying how to build it", () => {
    const r = sso("demo", "--model", join(tmpdir(), "no-such-model"), "--out", join(tmpdir(), "x"));
    assertOneLineError(r, /make-demo-model/);
  });

  it("--iterations 0 is a one-line error naming it, before any work", () => {
    const out = join(tempDir("sso-demo-"), "run");
    const r = sso("demo", "--model", makeTinyModel(4), "--out", out, "--iterations", "0");
    assertOneLineError(r, /iterations/);
    assert.ok(!existsSync(out), "nothing written");
  });
});
