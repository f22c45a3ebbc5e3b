// Token choice from logits: greedy, top-k, top-p and temperature, against closed-form expectations; the fast
// sampler against its readable twin, token for token.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { argmax, type SamplingParams, sampleToken, sampleTokenReference } from "../../src/sample/sampling.js";
import { Rng } from "../../src/tensor/rng.js";

const base: SamplingParams = { temperature: 1, topP: 1, topK: 0, maxNewTokens: 1, stop: [] };
const LOGITS = Float32Array.from([1.0, 3.0, 2.0, -1.0, 2.9, 0.0]);

function frequencies(p: SamplingParams, draws: number, seed = 1): number[] {
  const rng = new Rng(seed),
    f = new Array(LOGITS.length).fill(0);
  for (let i = 0; i < draws; i++) f[sampleToken(LOGITS, p, rng)]++;
  return f.map((x) => x / draws);
}

describe("sampling", () => {
  it("temperature 0 is argmax, first index on ties", () => {
    assert.equal(sampleToken(LOGITS, { ...base, temperature: 0 }, new Rng(1)), 1);
    assert.equal(argmax([2, 5, 5, 1]), 1);
  });

  it("at temperature 1 token frequencies follow the softmax (20k draws, within 0.015)", () => {
    const z = Array.from(LOGITS, Math.exp),
      sum = z.reduce((a, b) => a + b, 0);
    frequencies(base, 20000).forEach((f, i) =>
      assert.ok(Math.abs(f - z[i] / sum) < 0.015, `token ${i}: ${f} vs ${z[i] / sum}`),
    );
  });

  it("temperature sharpens: at 0.25 the top token is drawn more often than at 1", () => {
    assert.ok(frequencies({ ...base, temperature: 0.25 }, 5000)[1] > frequencies(base, 5000)[1] + 0.1);
  });

  it("top-k keeps only the k most likely tokens, renormalised", () => {
    const f = frequencies({ ...base, topK: 2 }, 20000);
    assert.deepEqual(
      f.map((x, i) => (x > 0 ? i : -1)).filter((i) => i >= 0),
      [1, 4],
    );
    const e = Math.exp(3) / (Math.exp(3) + Math.exp(2.9));
    assert.ok(Math.abs(f[1] - e) < 0.015, `${f[1]} vs ${e}`);
  });

  it("top-p keeps the smallest prefix reaching the mass, including the token that crosses it", () => {
    const z = Array.from(LOGITS, Math.exp),
      sum = z.reduce((a, b) => a + b, 0);
    const p1 = z[1] / sum,
      p14 = (z[1] + z[4]) / sum;
    // Just above p(token 1): token 4 is needed too; and nothing else.
    const f = frequencies({ ...base, topP: p1 + 0.01 }, 5000);
    assert.deepEqual(
      f.map((x, i) => (x > 0 ? i : -1)).filter((i) => i >= 0),
      [1, 4],
    );
    // Just above p(1)+p(4): token 2 joins.
    assert.ok(frequencies({ ...base, topP: p14 + 0.01 }, 5000)[2] > 0);
    // Below p(token 1) only token 1 remains.
    assert.deepEqual(
      frequencies({ ...base, topP: p1 - 0.01 }, 1000).map((x) => x > 0),
      [false, true, false, false, false, false],
    );
  });

  it("the same seed draws the same tokens", () => {
    assert.deepEqual(frequencies(base, 300, 7), frequencies(base, 300, 7));
    assert.notDeepEqual(frequencies(base, 300, 7), frequencies(base, 300, 8));
  });

  it("the fast sampler draws the reference's token every time (ties, ±0, top-k, top-p, temperatures)", () => {
    const rng = new Rng(3);
    // Rows: wide random logits (few candidates), flat ones (every entry a candidate, as random weights give),
    // coarse values (many ties, -0 and +0 among them) and a row with -Infinity entries.
    const rows = [
      Float32Array.from({ length: 5000 }, () => rng.normal() * 8),
      Float32Array.from({ length: 5000 }, () => rng.normal() * 0.05),
      Float32Array.from({ length: 3000 }, () => Math.round(rng.normal() * 3) / 2 || (rng.uniform() < 0.5 ? -0 : 0)),
      Float32Array.from({ length: 800 }, (_, i) => (i % 3 === 0 ? -Infinity : rng.normal())),
    ];
    const settings: Partial<SamplingParams>[] = [
      {},
      { topP: 0.8, temperature: 0.7 },
      { topP: 0.3, topK: 50 },
      { topK: 7, temperature: 1.5 },
      { topP: 0.999, temperature: 0.2 },
    ];
    let draws = 0;
    for (const row of rows)
      for (const s of settings) {
        const p = { ...base, ...s },
          a = new Rng(11),
          b = new Rng(11);
        for (let i = 0; i < 60; i++, draws++) assert.equal(sampleToken(row, p, a), sampleTokenReference(row, p, b));
      }
    assert.equal(draws, 1200);
  });
});
