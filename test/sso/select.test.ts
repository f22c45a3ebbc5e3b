// The random choices of synthesis: per-prompt streams from (seed, iteration, index, purpose); the policy's names cut
// to k and padded at random, deterministically; the Concision coin at its configured frequency.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DEFAULT_LIBRARY } from "../../src/sso/features.js";
import { chooseFeatures, STREAM, type Stream, streamSeed } from "../../src/sso/select.js";

const lib = DEFAULT_LIBRARY;
const names = lib.features.map((f) => f.name);

describe("per-prompt random streams", () => {
  it("seeds differ for every change of run seed, iteration, prompt index or purpose, and repeat exactly", () => {
    const seen = new Set<number>();
    for (const seed of [0, 1])
      for (const iteration of [0, 1])
        for (let i = 0; i < 50; i++) {
          for (const s of Object.keys(STREAM) as Stream[]) seen.add(streamSeed(seed, iteration, i, s));
        }
    assert.equal(seen.size, 2 * 2 * 50 * Object.keys(STREAM).length);
    assert.equal(streamSeed(7, 2, 31, "chosen"), streamSeed(7, 2, 31, "chosen"));
  });
});

describe("feature choice", () => {
  it("keeps the policy's first k names in order", () => {
    const c = chooseFeatures(["Safety", "Accuracy", "Logicality"], lib, 2, 0, 1, 2);
    assert.deepEqual(c, { features: ["Safety", "Accuracy"], fromPolicy: 2, padded: 0, concisionAdded: false });
  });

  it("pads with distinct random features not already chosen, the same ones for the same seed", () => {
    const a = chooseFeatures(["Safety"], lib, 3, 0, 42, 0);
    assert.equal(a.features[0], "Safety");
    assert.equal(a.features.length, 3);
    assert.equal(new Set(a.features).size, 3);
    assert.ok(a.features.every((f) => names.includes(f)));
    assert.deepEqual(a, { ...a, fromPolicy: 1, padded: 2 });
    assert.deepEqual(chooseFeatures(["Safety"], lib, 3, 0, 42, 0), a);
    // Over many seeds the padding reaches every other feature.
    const padded = new Set<string>();
    for (let s = 0; s < 200; s++) chooseFeatures([], lib, 2, 0, s, 0).features.forEach((f) => padded.add(f));
    assert.equal(padded.size, names.length);
  });

  it("an empty answer is padded to k entirely at random", () => {
    const c = chooseFeatures([], lib, 2, 0, 5, 0);
    assert.equal(c.features.length, 2);
    assert.equal(c.padded, 2);
  });

  it("adds Concision on about 20% of prompts at probability 0.2, never twice, and never at probability 0", () => {
    const N = 4000;
    let added = 0;
    for (let i = 0; i < N; i++) {
      const c = chooseFeatures(
        ["Accuracy", "Safety"],
        lib,
        2,
        0.2,
        streamSeed(0, 0, i, "padding"),
        streamSeed(0, 0, i, "concision"),
      );
      if (c.concisionAdded) {
        added++;
        assert.deepEqual(c.features, ["Accuracy", "Safety", "Concision"]);
      }
    }
    assert.ok(Math.abs(added / N - 0.2) < 0.025, `Concision added on ${added} of ${N}`);
    for (let i = 0; i < 200; i++) {
      assert.equal(
        chooseFeatures(["Concision", "Safety"], lib, 2, 1, i, i).features.filter((f) => f === "Concision").length,
        1,
      );
      assert.equal(chooseFeatures(["Accuracy", "Safety"], lib, 2, 0, i, i).concisionAdded, false);
    }
  });

  it("the coin does not change which features the padding picks", () => {
    for (let i = 0; i < 50; i++) {
      const off = chooseFeatures(["Accuracy"], lib, 2, 0, i, 99),
        on = chooseFeatures(["Accuracy"], lib, 2, 1, i, 99);
      assert.deepEqual(on.features.slice(0, 2), off.features);
    }
  });
});
