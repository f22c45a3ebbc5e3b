// The SSO record: TRL's conversational preference columns under their TRL names, the SSO columns, a strict schema
// that round-trips through JSON, and the policy hash recorded with it.
import assert from "node:assert/strict";
import { appendFileSync, cpSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { policyHash } from "../../src/model/hash.js";
import { REF_COLUMNS, SsoRecord, TRL_COLUMNS } from "../../src/sso/record.js";
import { tempDir } from "../helpers.js";
import { makeTinyModel, sampleRecord } from "./helpers.js";

describe("SSO record", () => {
  it("carries TRL's prompt/chosen/rejected columns in the conversational format", () => {
    assert.deepEqual([...TRL_COLUMNS], ["prompt", "chosen", "rejected"]);
    const r = sampleRecord();
    for (const col of TRL_COLUMNS)
      assert.ok(
        Array.isArray(r[col]) && r[col].every((m) => typeof m.role === "string" && typeof m.content === "string"),
        col,
      );
    assert.ok(r.prompt.every((m) => (m.role as string) !== "system"));
    assert.equal(r.chosen[0].role, "assistant");
  });

  it("names a reference column for each of the seven (prompt variant, response) pairs", () => {
    assert.deepEqual(
      [...REF_COLUMNS],
      [
        "ref_chosen_logps",
        "ref_rejected_logps",
        "ref_pos_chosen_logps",
        "ref_pos_rejected_logps",
        "ref_neg_chosen_logps",
        "ref_neg_rejected_logps",
        "ref_neg_raw_logps",
      ],
    );
    for (const col of [...REF_COLUMNS]) assert.ok(col in SsoRecord.shape, col);
  });

  it("round-trips through JSON unchanged", () => {
    const r = sampleRecord();
    assert.deepEqual(SsoRecord.parse(JSON.parse(JSON.stringify(r))), r);
  });

  it("rejects an unknown column, a missing reference column, a wrong role and a positive log-prob", () => {
    const r = sampleRecord();
    const { ref_neg_raw_logps: _, ...missing } = r;
    const bad: [string, unknown][] = [
      ["extra", { ...r, score: 1 }],
      ["missing", missing],
      ["role", { ...r, chosen: [{ role: "user", content: "x" }] }],
      ["two answers", { ...r, raw: [...r.raw, ...r.raw] }],
      ["positive", { ...r, ref_chosen_logps: 0.5 }],
      ["system prompt", { ...r, prompt: [{ role: "system", content: "s" }, ...r.prompt] }],
      ["ends with assistant", { ...r, prompt: [...r.prompt, ...r.chosen] }],
      ["zero tokens", { ...r, raw_n_tokens: 0 }],
    ];
    for (const [label, v] of bad) assert.equal(SsoRecord.safeParse(v).success, false, label);
  });
});

describe("policy hash", () => {
  const dir = makeTinyModel(1);

  it("is stable, and changes when the weights or the config change", () => {
    const h = policyHash(dir);
    assert.match(h, /^[0-9a-f]{64}$/);
    assert.equal(policyHash(dir), h);
    const w = join(tempDir("sso-hash-"), "m");
    cpSync(dir, w, { recursive: true });
    assert.equal(policyHash(w), h);
    appendFileSync(join(w, "model.safetensors"), Buffer.alloc(4));
    assert.notEqual(policyHash(w), h);
    cpSync(dir, w, { recursive: true });
    writeFileSync(join(w, "config.json"), "{}");
    assert.notEqual(policyHash(w), h);
    assert.notEqual(policyHash(makeTinyModel(2)), h);
  });
});
