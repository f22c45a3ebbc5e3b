// `sso eval pairwise` and `sso eval grade` end to end with `sso serve` running a tiny random model as the judge
// (mechanics, not quality: its replies are noise, so most verdicts are unparsed, and a run with none parsed exits
// 1 after writing its report): the API key travels from an environment variable, both orders are asked, every item
// is counted as judged or unparsed, the HTML page shows the answers side by side, and a rerun with --keep-unparsed
// is answered from the judgment cache without a request. `sso eval math` grades
// an answers file.
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { makeTinyModel, runCli, spawnCli, startServe, tempDir } from "../helpers.js";

/** Runs the CLI without blocking this process, with extra environment variables. */
const runCliAsync = (
  args: string[],
  env: Record<string, string>,
): Promise<{ status: number | null; stdout: string; stderr: string }> =>
  new Promise((resolve) => {
    const child = spawnCli(args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
    let stdout = "",
      stderr = "";
    child.stdout!.on("data", (d) => (stdout += d));
    child.stderr!.on("data", (d) => (stderr += d));
    child.on("exit", (status) => resolve({ status, stdout, stderr }));
  });

describe("sso eval with sso serve as the judge", () => {
  const work = tempDir("sso-eval-judge-");
  const judgeModel = makeTinyModel(5);

  it("pairwise and grade run through the server; a rerun with --keep-unparsed asks nothing", async () => {
    const model = join(work, "model.json"),
      base = join(work, "base.jsonl");
    const instructions = ["Name a red fruit.", "What is 2 + 3?"];
    writeFileSync(
      model,
      JSON.stringify(
        instructions.map((instruction, i) => ({ instruction, output: ["Apple.", "5"][i], generator: "mine" })),
      ),
    );
    writeFileSync(
      base,
      instructions.map((instruction) => `${JSON.stringify({ instruction, output: "I am not sure." })}\n`).join(""),
    );
    const questions = join(work, "questions.jsonl"),
      answers = join(work, "answers.jsonl");
    writeFileSync(
      questions,
      `${JSON.stringify({ question_id: 1, category: "math", turns: ["What is 2 + 3?", "And times 2?"], reference: ["5", "10"] })}\n`,
    );
    writeFileSync(answers, `${JSON.stringify({ question_id: 1, turns: ["5", "10"] })}\n`);

    const { server, url, exited } = await startServe(["--model", judgeModel, "--api-key", "s3cret"]);
    const judge = [
      "--judge-url",
      url,
      "--judge-model",
      "model",
      "--judge-key-env",
      "JUDGE_KEY",
      "--judge-max-tokens",
      "6",
    ];
    const env = { JUDGE_KEY: "s3cret" };
    try {
      const out = join(work, "pairwise.json"),
        html = join(work, "pairwise.html");
      const args = ["eval", "pairwise", "--answers", model, "--baseline", base, "--out", out, "--html", html, ...judge];
      const t0 = performance.now();
      const r = await runCliAsync(args, env);
      console.log(`# pairwise, 2 items × 2 orders: ${Math.round(performance.now() - t0)} ms`);
      // The report is written either way; a run in which no item got a verdict (likely from this noise) exits 1.
      const report = JSON.parse(readFileSync(out, "utf8"));
      const anyJudged = report.summary.judged > 0;
      assert.equal(r.status, anyJudged ? 0 : 1, r.stderr);
      if (anyJudged) {
        assert.match(r.stdout, /^mine vs base\.jsonl: 2 items, \d judged in both orders, \d unparsed$/m);
        assert.match(r.stdout, /^win rate %/m);
        assert.match(r.stderr, /: 4 asked, 0 from the cache/);
      } else
        assert.match(r.stderr, /^sso: eval pairwise: the judge's reply could not be parsed for any of the 2 items/);
      assert.equal(report.summary.judged + report.summary.unparsed, 2);
      for (const o of report.outcomes) {
        assert.equal(o.replies.length, 2, "both orders asked");
        for (const replies of o.replies) assert.ok(replies.length === 1 || replies.length === 2);
        assert.equal(o.preference === null, o.model_first === null || o.baseline_first === null);
      }
      const asked = report.outcomes.flatMap((o: { replies: string[][] }) => o.replies).length;
      assert.equal(asked, 4);
      const page = readFileSync(html, "utf8");
      assert.ok(page.includes("Apple.") && page.includes("I am not sure.") && page.includes("model shown first"));
      assert.ok(existsSync(`${out}.judgments.jsonl`));

      // A rerun that keeps unparsed judgments sends nothing (the cache file gains no line).
      const cacheLines = () => readFileSync(`${out}.judgments.jsonl`, "utf8").split("\n").length;
      const before = cacheLines();
      const again = await runCliAsync([...args, "--keep-unparsed"], env);
      assert.equal(again.status, r.status, again.stderr);
      if (anyJudged) assert.match(again.stderr, /: 0 asked, 4 from the cache/);
      assert.equal(cacheLines(), before);
      assert.deepEqual(JSON.parse(readFileSync(out, "utf8")).summary, report.summary);

      const graded = join(work, "grade.json");
      const g = await runCliAsync(
        ["eval", "grade", "--questions", questions, "--answers", answers, "--out", graded, ...judge],
        env,
      );
      const gradeReport = JSON.parse(readFileSync(graded, "utf8"));
      const anyGraded = gradeReport.summary.unparsed < gradeReport.summary.grades;
      assert.equal(g.status, anyGraded ? 0 : 1, g.stderr);
      if (anyGraded) {
        assert.match(g.stdout, /^math\s/m);
        assert.match(g.stdout, /^overall .* over \d grades, \d unparsed$/m);
      } else assert.match(g.stderr, /^sso: eval grade: the judge's reply could not be parsed for any of the 2 turns/);
      const grades = gradeReport.grades;
      assert.deepEqual(
        grades.map((x: { turn: number }) => x.turn),
        [1, 2],
      );
    } finally {
      server.kill("SIGTERM");
      assert.equal(await exited, 0);
    }
  });

  it("eval math prints accuracy with its interval from an answers file", () => {
    const data = join(work, "gsm.jsonl"),
      answers = join(work, "gsm-answers.jsonl");
    writeFileSync(
      data,
      ["#### 12", "#### 1,000", "#### 7"]
        .map((answer, i) => `${JSON.stringify({ question: `q${i}`, answer })}\n`)
        .join(""),
    );
    writeFileSync(
      answers,
      ["So 12.", "It costs $1,000.", "no idea"].map((output) => `${JSON.stringify({ output })}\n`).join(""),
    );
    const r = runCli("eval", "math", "--data", data, "--answers", answers, "--format", "gsm8k");
    assert.equal(r.status, 0, r.stderr);
    assert.match(
      r.stdout,
      /^accuracy % 66\.7 \[\d+\.\d, \d+\.\d\]: 2 \/ 3 correct, 1 without an answer in the gsm8k format$/m,
    );
  });
});
