// Hugging Face model folder → one GGUF file that llama.cpp (and node-llama-cpp) load, the way llama.cpp's
// convert_hf_to_gguf.py writes Llama/Mistral (GGUF arch "llama") and Qwen2 (arch "qwen2") models: hyperparameter
// metadata, tensors under GGUF names, the Q/K rows of the "llama" arch permuted from Hugging Face's rotate-half RoPE
// layout to ggml's interleaved one, llama3 RoPE scaling as a rope_freqs tensor, tied embeddings without an output
// tensor, and the tokenizer (gguf-vocab.ts). F16 files keep 1-D tensors (norms, biases, rope_freqs) in F32.
// A LoRA adapter is merged into the weights first (merge.ts); GGUF LoRA files are not written.
// Not here: quantised types (Q8_0, Q4_K…), BF16 output, split files, GGUF → HF.
import { basename, join, resolve } from "node:path";
import type { ModelConfig } from "../model/config.js";
import { readConfig } from "../model/folder.js";
import { loadMerged } from "../model/merge.js";
import { GLOBAL_TENSORS, LAYER_TENSORS } from "../model/modules.js";
import { checkTensors, type Params, paramSpecs } from "../model/params.js";
import { loadModelTensors } from "../model/safetensors.js";
import { narrowToF16 } from "../tensor/dtype.js";
import { f32, type GgmlType, type GgufKv, type GgufTensor, str, u32, writeGguf } from "./gguf-file.js";
import { ggufVocabKvs } from "./gguf-vocab.js";

export interface GgufExportOptions {
  dtype: "F32" | "F16";
  /** A PEFT LoRA adapter folder merged into the weights first, on `backend` (default cpu). */
  adapter?: string;
  backend?: string;
}

type Arch = "llama" | "qwen2";

const ARCH: Record<ModelConfig["modelType"], Arch> = { llama: "llama", mistral: "llama", qwen2: "qwen2" };

/** llama_ftype of the file: all F32, or F16 matrices. */
const FILE_TYPE = { F32: 0, F16: 1 } as const;

/** Hugging Face per-layer tensor suffix → GGUF suffix (blk.N.…), and the tensors outside the layers (modules.ts). */
const LAYER_NAMES: Record<string, string> = Object.fromEntries(LAYER_TENSORS.map((t) => [t.hf, t.gguf]));
const GLOBAL_NAMES: Record<string, string> = GLOBAL_TENSORS;

/** The GGUF name of a Hugging Face tensor name. */
export function ggufTensorName(hfName: string): string {
  const m = /^model\.layers\.(\d+)\.(.+)$/.exec(hfName);
  const name = m ? LAYER_NAMES[m[2]] && `blk.${m[1]}.${LAYER_NAMES[m[2]]}` : GLOBAL_NAMES[hfName];
  if (!name) throw new Error(`gguf: no GGUF name for tensor ${hfName}`);
  return name;
}

/**
 * convert_hf_to_gguf's LlamaModel.permute for rows of shape (NH·HS, cols): within each head, row p·HS/2 + j moves
 * to row 2j + p, so the rotate-half pairs (j, j + HS/2) of Hugging Face become ggml's adjacent pairs (2j, 2j+1).
 */
export function permuteRopeRows(w: Float32Array, NH: number, HS: number, cols: number): Float32Array {
  const out = new Float32Array(w.length),
    half = HS / 2;
  for (let h = 0; h < NH; h++) {
    for (let p = 0; p < 2; p++) {
      for (let j = 0; j < half; j++) {
        const src = (h * HS + p * half + j) * cols,
          dst = (h * HS + 2 * j + p) * cols;
        out.set(w.subarray(src, src + cols), dst);
      }
    }
  }
  return out;
}

/**
 * llama3 RoPE scaling as llama.cpp applies it: per-frequency divisors (HS/2), the "rope_freqs" tensor. Long
 * wavelengths are divided by the factor, short ones kept, the band between smoothly interpolated.
 */
export function llama3RopeFactors(c: ModelConfig): Float32Array {
  const s = c.ropeScaling;
  if (s.type !== "llama3") throw new Error("llama3RopeFactors: the config has no llama3 rope scaling");
  const HS = c.headDim,
    lowWavelen = s.originalMaxPositionEmbeddings / s.lowFreqFactor,
    highWavelen = s.originalMaxPositionEmbeddings / s.highFreqFactor;
  return Float32Array.from({ length: HS / 2 }, (_, i) => {
    const wavelen = (2 * Math.PI) / Math.fround(1 / c.ropeTheta ** Math.fround((2 * i) / HS));
    if (wavelen < highWavelen) return 1;
    if (wavelen > lowWavelen) return s.factor;
    const smooth = (s.originalMaxPositionEmbeddings / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
    return 1 / ((1 - smooth) / s.factor + smooth);
  });
}

/** Refuses what llama.cpp's graph for the arch would compute differently; errors name config.json's key. */
function checkSupported(c: ModelConfig, arch: Arch, source: string): void {
  if (c.ropeScaling.type === "llama3" && arch !== "llama") {
    throw new Error(
      `${source}: rope_scaling: llama3 scaling is not supported for GGUF arch ${arch} (llama.cpp applies rope_freqs only for llama)`,
    );
  }
}

function modelKvs(c: ModelConfig, arch: Arch, dtype: GgufExportOptions["dtype"], name: string): GgufKv[] {
  const kvs: GgufKv[] = [
    ["general.architecture", str(arch)],
    ["general.type", str("model")],
    ["general.name", str(name)],
    ["general.file_type", u32(FILE_TYPE[dtype])],
    ["general.quantization_version", u32(2)],
    [`${arch}.vocab_size`, u32(c.vocabSize)],
    [`${arch}.context_length`, u32(c.maxPositionEmbeddings)],
    [`${arch}.embedding_length`, u32(c.hiddenSize)],
    [`${arch}.block_count`, u32(c.numLayers)],
    [`${arch}.feed_forward_length`, u32(c.intermediateSize)],
    [`${arch}.attention.head_count`, u32(c.numHeads)],
    [`${arch}.attention.head_count_kv`, u32(c.numKvHeads)],
    [`${arch}.attention.key_length`, u32(c.headDim)],
    [`${arch}.attention.value_length`, u32(c.headDim)],
    [`${arch}.attention.layer_norm_rms_epsilon`, f32(c.rmsNormEps)],
    [`${arch}.rope.freq_base`, f32(c.ropeTheta)],
    [`${arch}.rope.dimension_count`, u32(c.headDim)],
  ];
  if (c.ropeScaling.type === "linear") {
    kvs.push([`${arch}.rope.scaling.type`, str("linear")], [`${arch}.rope.scaling.factor`, f32(c.ropeScaling.factor)]);
  }
  return kvs;
}

const bytesOf = (a: Float32Array | Uint16Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** One tensor in the file's dtype: matrices (2-D ".weight") in F16 when asked, everything else F32. */
function tensor(
  name: string,
  shape: readonly number[],
  data: Float32Array,
  dtype: GgufExportOptions["dtype"],
): GgufTensor {
  const type: GgmlType = dtype === "F16" && shape.length === 2 && name.endsWith(".weight") ? "F16" : "F32";
  let bytes = bytesOf(data);
  if (type === "F16") {
    const half = new Uint16Array(data.length);
    narrowToF16(half, data);
    bytes = bytesOf(half);
  }
  return { name, dims: [...shape].reverse(), type, data: bytes };
}

function ggufTensors(c: ModelConfig, arch: Arch, params: Params, dtype: GgufExportOptions["dtype"]): GgufTensor[] {
  const out: GgufTensor[] = [];
  if (c.ropeScaling.type === "llama3")
    out.push(tensor("rope_freqs.weight", [c.headDim / 2], llama3RopeFactors(c), dtype));
  for (const s of paramSpecs(c)) {
    let data = params.get(s.name)!;
    if (arch === "llama") {
      // Rows of q (NH heads) and k (NKV heads), weights and biases alike, go to ggml's RoPE layout.
      const cols = s.shape.length === 2 ? s.shape[1] : 1;
      if (/\.q_proj\.(weight|bias)$/.test(s.name)) data = permuteRopeRows(data, c.numHeads, c.headDim, cols);
      if (/\.k_proj\.(weight|bias)$/.test(s.name)) data = permuteRopeRows(data, c.numKvHeads, c.headDim, cols);
    }
    out.push(tensor(ggufTensorName(s.name), s.shape, data, dtype));
  }
  return out;
}

/** Writes modelDir (config.json, safetensors weights, tokenizer.json …) as a GGUF v3 file at outPath, atomically. */
export function exportGguf(modelDir: string, outPath: string, opts: GgufExportOptions): void {
  const config = readConfig(modelDir);
  const arch = ARCH[config.modelType];
  checkSupported(config, arch, join(modelDir, "config.json"));
  const vocab = ggufVocabKvs(modelDir, config.vocabSize); // before the weights: tokenizer refusals come cheap
  const params =
    opts.adapter === undefined
      ? checkTensors(config, loadModelTensors(modelDir), modelDir)
      : loadMerged(modelDir, opts.adapter, opts.backend ?? "cpu").params;
  const kvs = [...modelKvs(config, arch, opts.dtype, basename(resolve(modelDir))), ...vocab];
  writeGguf(outPath, kvs, ggufTensors(config, arch, params, opts.dtype));
}
