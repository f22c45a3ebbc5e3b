// Synthesis in memory on a tiny random model: records do not depend on the batch size or on resuming mid-way;
// every prompt is kept or counted under one reason; y+, y-, y° are the policy's answers to x+, x-, x under the
// recorded seeds; the reference columns equal an independent scoring of the trainer's chat encoding.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { getBackend } from "../../src/backends/index.js";
import { loadModel } from "../../src/model/folder.js";
import { scoreItems } from "../../src/model/score.js";
import { generate } from "../../src/sample/generate.js";
import { SYNTH_DEFAULTS, type SynthConfig } from "../../src/sso/config.js";
import { DEFAULT_LIBRARY } from "../../src/sso/features.js";
import { DROP_REASONS } from "../../src/sso/filters.js";
import { joinWords } from "../../src/sso/prompts.js";
import { REF_COLUMNS, type RefColumn, SsoRecord } from "../../src/sso/record.js";
import { type SynthPrompt, synthesize, synthesizeChunks } from "../../src/sso/synth.js";
import { type ChatMessage, Tokenizer } from "../../src/tokenizer/tokenizer.js";
import { makeTinyModel } from "./helpers.js";

const dir = makeTinyModel(5);
const model = loadModel(dir, getBackend("cpu"));
const tok = Tokenizer.fromDir(dir);
const policy = { model: dir, hash: "0".repeat(64) };
const config = (o: Partial<SynthConfig> = {}): SynthConfig => ({
  ...SYNTH_DEFAULTS,
  batch: 3,
  selection: { ...SYNTH_DEFAULTS.selection, maxNewTokens: 6 },
  sampling: { ...SYNTH_DEFAULTS.sampling, maxNewTokens: 10 },
  ...o,
});
const prompts: SynthPrompt[] = Array.from({ length: 7 }, (_, i) => ({
  index: i,
  id: `p${i}`,
  messages:
    i === 4
      ? [
          { role: "user", content: "hi" },
          { role: "assistant", content: "hello" },
          { role: "user", content: "and now?" },
        ]
      : [{ role: "user", content: `Question number ${i}?` }],
}));
const base = synthesize(model, tok, prompts, config(), { policy });

describe("synthesis", () => {
  it("writes schema-valid records and counts every prompt as kept or under one drop reason", () => {
    const { records, summary } = base;
    assert.ok(records.length >= 4, `only ${records.length} of 7 kept: ${JSON.stringify(summary.dropped)}`);
    records.forEach((r) => SsoRecord.parse(r));
    assert.equal(summary.prompts, 7);
    assert.equal(summary.kept + DROP_REASONS.reduce((s, r) => s + summary.dropped[r], 0), 7);
    assert.deepEqual(
      records.map((r) => r.prompt_index),
      [...records.map((r) => r.prompt_index)].sort((a, b) => a - b),
    );
    assert.equal(
      Object.values(summary.features_selected).reduce((a, b) => a + b, 0),
      7 * 2 + summary.selection.concision_added,
    );
    assert.equal(summary.selection.from_policy + summary.selection.padded, 7 * 2);
  });

  it("gives the same records at batch 1 and batch 5, and other records for another seed", () => {
    for (const batch of [1, 5])
      assert.deepEqual(
        synthesize(model, tok, prompts, config({ batch }), { policy }).records,
        base.records,
        `batch ${batch}`,
      );
    const other = synthesize(model, tok, prompts, config({ seed: 1 }), { policy }).records;
    assert.notDeepEqual(
      other.map((r) => r.chosen),
      base.records.map((r) => r.chosen),
    );
  });

  it("a run resumed at a chunk boundary with the counts so far continues exactly", () => {
    const chunks: { next: number; n: number }[] = [];
    const first = synthesizeChunks(model, tok, prompts.slice(0, 3), config(), {
      policy,
      onChunk: (c) => chunks.push({ next: c.next, n: c.records.length }),
    });
    assert.deepEqual(
      chunks.map((c) => c.next),
      [3],
    );
    const rest = synthesizeChunks(model, tok, prompts, config(), { policy, start: 3, counts: first.counts });
    assert.deepEqual([...first.records, ...rest.records], base.records);
    const { timing: _, ...want } = base.summary;
    assert.deepEqual(
      rest.counts,
      Object.fromEntries(Object.keys(rest.counts).map((k) => [k, want[k as keyof typeof want]])),
    );
  });

  it("y+, y- and y° are the policy's samples for x+, x- and x under the recorded seeds; y° is greedy with rawGreedy", () => {
    const r = base.records[0];
    const x = r.prompt,
      xPos = [{ role: "system", content: r.system_pos }, ...x],
      xNeg = [{ role: "system", content: r.system_neg }, ...x];
    const params = { temperature: 0.7, topP: 0.8, topK: 0, maxNewTokens: 10, stop: [] };
    const gen = (messages: ChatMessage[], seed: number, p = params) =>
      generate(model, [{ promptIds: tok.encodeChat(messages).promptIds, params: p, seed }], {
        maxBatch: 1,
        eosIds: tok.stopIds,
        decode: (ids) => tok.decode(ids, { skipSpecialTokens: true }),
      })[0].text;
    assert.equal(gen(xPos, r.sample_seeds.chosen), r.chosen[0].content);
    assert.equal(gen(xNeg, r.sample_seeds.rejected), r.rejected[0].content);
    assert.equal(gen(x, r.sample_seeds.raw), r.raw[0].content);
    const goods = r.features.map((f) => DEFAULT_LIBRARY.features.find((d) => d.name === f)!.good);
    assert.ok(r.system_pos.startsWith(`Your answer should be ${joinWords(goods)}.\n`), r.system_pos);
    const greedy = synthesize(
      model,
      tok,
      prompts.slice(0, 2),
      config({ sampling: { ...config().sampling, rawGreedy: true } }),
      { policy },
    ).records;
    for (const g of greedy) {
      const want = gen(g.prompt, 12345, { ...params, temperature: 0 });
      assert.equal(g.raw[0].content, want);
      assert.equal(g.sampling.raw_greedy, true);
    }
  });

  it("reference columns equal scoring each (prompt variant, response) pair alone through the chat encoding", () => {
    const pairs: Record<RefColumn, ["x" | "pos" | "neg", "chosen" | "rejected" | "raw"]> = {
      ref_chosen_logps: ["x", "chosen"],
      ref_rejected_logps: ["x", "rejected"],
      ref_pos_chosen_logps: ["pos", "chosen"],
      ref_pos_rejected_logps: ["pos", "rejected"],
      ref_neg_chosen_logps: ["neg", "chosen"],
      ref_neg_rejected_logps: ["neg", "rejected"],
      ref_neg_raw_logps: ["neg", "raw"],
    };
    assert.deepEqual(Object.keys(pairs), [...REF_COLUMNS]);
    for (const r of base.records.slice(0, 3)) {
      const variants = {
        x: r.prompt,
        pos: [{ role: "system", content: r.system_pos }, ...r.prompt],
        neg: [{ role: "system", content: r.system_neg }, ...r.prompt],
      };
      for (const [col, [v, a]] of Object.entries(pairs) as [RefColumn, (typeof pairs)[RefColumn]][]) {
        const enc = tok.encodeChat(variants[v], r[a][0].content);
        const [s] = scoreItems(model, [enc]);
        assert.ok(Math.abs(s.logp - r[col]) < 1e-4, `${col}: ${r[col]} vs ${s.logp}`);
        assert.equal(s.n_tokens, r[`${a}_n_tokens`], `${col} tokens`);
      }
    }
  });

  it("a prompt too long for the model's context is dropped as too_long, the others are unaffected", () => {
    const long: SynthPrompt = { index: 7, id: "long", messages: [{ role: "user", content: "x".repeat(5000) }] };
    const r = synthesize(model, tok, [...prompts, long], config(), { policy });
    assert.equal(r.summary.dropped.too_long, base.summary.dropped.too_long + 1);
    assert.deepEqual(r.records, base.records);
  });

  it("query-specific principles fall back to the library when the policy's JSON is unusable", () => {
    const r = synthesize(
      model,
      tok,
      prompts.slice(0, 3),
      config({ queryPrinciples: true, principles: { temperature: 0.7, topP: 0.8, maxNewTokens: 8 } }),
      { policy },
    );
    const features = Object.values(r.summary.features_selected).reduce((a, b) => a + b, 0);
    assert.deepEqual(r.summary.principles, { policy: 0, library: features });
    assert.ok(
      r.summary.generated_tokens >
        synthesize(model, tok, prompts.slice(0, 3), config(), { policy }).summary.generated_tokens,
    );
    for (const rec of r.records)
      assert.deepEqual(
        rec.principle_sources,
        rec.features.map(() => "library"),
      );
  });

  it("the log-prob ordering filter keeps a subset and counts the rest under its reasons", () => {
    const r = synthesize(model, tok, prompts, config({ filters: { dropTruncated: false, logpOrder: true } }), {
      policy,
    });
    const kept = new Set(r.records.map((x) => x.prompt_index));
    assert.deepEqual(
      r.records,
      base.records.filter((x) => kept.has(x.prompt_index)),
    );
    assert.equal(
      r.summary.dropped.logp_order + r.summary.dropped.logp_below_mean,
      base.records.length - r.records.length,
    );
    assert.ok(r.records.length < base.records.length, "some record should fail the ordering on a random model");
  });
});
