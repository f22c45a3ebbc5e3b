// Judging mechanics without a model: the position swap (each item judged with the model's answer first and with the
// baseline's first; a judge that always picks the first answer yields ties, and disagreements are counted), verdict
// and score parsing, the judgment cache (a rerun against a counting fake server on 127.0.0.1 sends no request), an
// unparseable reply asked again once and then counted as unparsed (never a tie), and the missing API key error.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { judgeApiKey, openAiChat } from "../../src/eval/client.js";
import { JudgmentCache } from "../../src/eval/judge.js";
import {
  combineOrders,
  judgePairs,
  llmPairJudge,
  modelPreference,
  type PairOutcome,
  summarizePairs,
} from "../../src/eval/pairwise.js";
import { parseScore, parseVerdict } from "../../src/eval/prompts.js";
import { judgeWorldPairs } from "../../src/eval/world-judge.js";
import { heldOutPrompts } from "../../src/world/world.js";
import { assertOneLineError, runCli, tempDir } from "../helpers.js";

describe("position swap", () => {
  it("reads A and B as the model or the baseline by which was shown first", () => {
    assert.equal(modelPreference("A", true), 1);
    assert.equal(modelPreference("B", true), 0);
    assert.equal(modelPreference("A", false), 0);
    assert.equal(modelPreference("B", false), 1);
    assert.equal(modelPreference("tie", false), 0.5);
  });

  it("averages the two orders; an unparsed order makes the item unparsed", () => {
    assert.equal(combineOrders("A", "B"), 1); // model chosen in both orders
    assert.equal(combineOrders("B", "A"), 0);
    assert.equal(combineOrders("A", "A"), 0.5); // always the first answer: pure position bias
    assert.equal(combineOrders("tie", "B"), 0.75);
    assert.equal(combineOrders("B", "tie"), 0.25);
    assert.equal(combineOrders(null, "B"), null);
  });

  it("summarises outcomes: wins, losses, ties, disagreements and unparsed, rates over the judged only", () => {
    const o = (model_first: "A" | "B" | "tie" | null, baseline_first: "A" | "B" | "tie" | null): PairOutcome => ({
      instruction: "q",
      output: "xx",
      baseline: "x",
      model_first,
      baseline_first,
      preference: combineOrders(model_first, baseline_first),
      replies: [],
    });
    const s = summarizePairs([o("A", "B"), o("A", "A"), o("tie", "B"), o("B", "A"), o(null, "B")]);
    assert.deepEqual([s.n, s.judged, s.unparsed, s.wins, s.losses, s.ties, s.inconsistent], [5, 4, 1, 2, 1, 1, 2]);
    assert.equal(s.win_rate, (1 + 0.5 + 0.75 + 0) / 4);
  });

  it("the world judge is order-independent and prefers the checkers' better answer", () => {
    const [p] = heldOutPrompts(0, 40).filter((x) => x.task.family === "arith");
    const task = p.task as { answer: number };
    const [out] = judgeWorldPairs([
      { instruction: p.text, output: `The answer is ${task.answer}.`, baseline: "I cannot." },
    ]);
    assert.deepEqual([out.model_first, out.baseline_first, out.preference], ["A", "B", 1]);
  });
});

describe("sso eval pairwise --judge world", () => {
  it("judges answer files offline with the checkers; a non-world prompt is a one-line error", () => {
    const work = tempDir("sso-world-judge-");
    const prompts = heldOutPrompts(0, 30)
      .filter((p) => p.task.family === "arith")
      .slice(0, 4);
    const right = (p: (typeof prompts)[number]) => `The answer is ${(p.task as { answer: number }).answer}.`;
    const mine = join(work, "mine.jsonl"),
      base = join(work, "base.json");
    // Mine: right, right, right, wrong; the baseline: wrong, wrong, right, wrong.
    writeFileSync(
      mine,
      prompts
        .map((p, i) => `${JSON.stringify({ prompt: p.text, response: i < 3 ? right(p) : "The answer is -1." })}\n`)
        .join(""),
    );
    writeFileSync(
      base,
      JSON.stringify(
        prompts.map((p, i) => ({
          instruction: p.text,
          output: i === 2 ? right(p) : "The answer is -1.",
          generator: "ref",
        })),
      ),
    );
    const out = join(work, "r.json");
    const r = runCli("eval", "pairwise", "--answers", mine, "--baseline", base, "--judge", "world", "--out", out);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^mine\.jsonl vs ref: 4 items, 4 judged in both orders, 0 unparsed$/m);
    assert.match(r.stdout, /^wins 2, losses 0, ties 2; the two orders disagreed on 0$/m);
    assert.match(r.stdout, /^win rate % {8}75\.0 \[/m);
    writeFileSync(mine, `${JSON.stringify({ prompt: "Not from the world", response: "x" })}\n`);
    writeFileSync(base, JSON.stringify([{ instruction: "Not from the world", output: "y" }]));
    assertOneLineError(
      runCli("eval", "pairwise", "--answers", mine, "--baseline", base, "--judge", "world", "--out", out),
      /not a world prompt/,
    );
  });
});

describe("parsing the judge", () => {
  const verdicts: [string, "A" | "B" | "tie" | null][] = [
    ["A is longer but B is right.\nVerdict: B", "B"],
    ["**Verdict:** A", "A"],
    ["Verdict: [[A]]", "A"],
    ["verdict: tie", "tie"],
    ["Verdict: A ... on reflection, Verdict: B", "B"],
    ["I prefer answer A.", null],
    ["Verdict: a tie", null],
  ];
  for (const [reply, want] of verdicts)
    it(`${JSON.stringify(reply)} → ${want}`, () => assert.equal(parseVerdict(reply), want));

  const scores: [string, number | null][] = [
    ["Good.\nScore: 7", 7],
    ["**Score:** 10/10", 10],
    ["Score: 0", null],
    ["Score: 11", null],
    ["I'd give it 8.", null],
  ];
  for (const [reply, want] of scores)
    it(`${JSON.stringify(reply)} → ${want}`, () => assert.equal(parseScore(reply), want));
});

/** A fake chat server: answers request k with replies[k] (the last one repeated) and counts requests. */
async function fakeJudge(replies: string[]): Promise<{ url: string; server: Server; hits: () => number }> {
  let n = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      const content = replies[Math.min(n++, replies.length - 1)];
      res
        .writeHead(200, { "content-type": "application/json" })
        .end(JSON.stringify({ choices: [{ message: { content } }] }));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, server, hits: () => n };
}

describe("judging through a chat server", () => {
  const work = tempDir("sso-judge-");
  const servers: Server[] = [];
  after(() => servers.forEach((s) => s.close()));
  const items = [0, 1, 2].map((i) => ({ instruction: `Question ${i}?`, output: `model ${i}`, baseline: `base ${i}` }));

  it("caches every judgment on disk: a rerun sends no request and gives the same outcomes", async () => {
    const fake = await fakeJudge(["Both fine.\nVerdict: A"]); // always the first answer
    servers.push(fake.server);
    const path = join(work, "cache.jsonl");
    const judge = (cache: JudgmentCache) => llmPairJudge(openAiChat({ baseUrl: fake.url, model: "j" }), cache);
    const first = await judgePairs(items, judge(new JudgmentCache(path)), { concurrency: 2 });
    assert.equal(fake.hits(), 6, "two orders per item");
    assert.deepEqual(
      first.map((o) => o.preference),
      [0.5, 0.5, 0.5],
    );
    assert.equal(summarizePairs(first).inconsistent, 3);
    const cache = new JudgmentCache(path);
    const again = await judgePairs(items, judge(cache));
    assert.equal(fake.hits(), 6, "no request on the rerun");
    assert.equal(cache.hits, 6);
    assert.deepEqual(again, first);
    // Another judge model is another key.
    await judgePairs(
      items.slice(0, 1),
      llmPairJudge(openAiChat({ baseUrl: fake.url, model: "k" }), new JudgmentCache(path)),
    );
    assert.equal(fake.hits(), 8);
  });

  it("asks once more when a reply has no verdict, then counts the item as unparsed, not as a tie", async () => {
    const fake = await fakeJudge(["They are both good.", "Verdict: B", "no idea", "still no idea"]);
    servers.push(fake.server);
    const judge = llmPairJudge(openAiChat({ baseUrl: fake.url, model: "j" }), new JudgmentCache());
    const [o] = await judgePairs(items.slice(0, 1), judge, { concurrency: 1 });
    assert.equal(fake.hits(), 4, "each order: the first reply and one retry");
    assert.equal(o.model_first, "B");
    assert.deepEqual(o.replies[0], ["They are both good.", "Verdict: B"]);
    assert.equal(o.baseline_first, null);
    assert.equal(o.preference, null);
    const s = summarizePairs([o]);
    assert.deepEqual([s.unparsed, s.ties, s.judged, s.win_rate], [1, 0, 0, null]);
  });

  it("a judge off this machine without its API key is a one-line error naming the variable", () => {
    assert.throws(() => judgeApiKey("https://api.example.com/v1", undefined, {}), /OPENAI_API_KEY/);
    assert.equal(judgeApiKey("http://127.0.0.1:8000/v1", undefined, {}), undefined);
    assert.throws(() => judgeApiKey("http://127.0.0.1:8000/v1", "MY_KEY", {}), /export MY_KEY=/);
    assert.equal(judgeApiKey("https://x/v1", "MY_KEY", { MY_KEY: "k" }), "k");
    const a = join(work, "a.jsonl");
    writeFileSync(a, `${JSON.stringify({ instruction: "q", output: "o" })}\n`);
    const r = runCli(
      ...["eval", "pairwise", "--answers", a, "--baseline", a, "--out", join(work, "r.json")],
      ...["--judge-url", "https://api.example.com/v1", "--judge-model", "m", "--judge-key-env", "SSO_TEST_UNSET_KEY"],
    );
    assertOneLineError(r, /SSO_TEST_UNSET_KEY/);
  });
});
