// `sso export --model DIR --gguf OUT.gguf [--dtype f32|f16]`: a Hugging Face model folder as one GGUF file for
// llama.cpp / node-llama-cpp (the format work is src/export/gguf.ts). Only GGUF for now; no quantisation.
import { statSync } from "node:fs";
import { exportGguf } from "../export/gguf.js";
import { readConfig } from "../model/folder.js";
import { checkTokenizerFitsModel } from "../tokenizer/tokenizer.js";
import { checkOutputFile } from "../util/output-path.js";

export interface ExportOptions {
  model: string;
  gguf: string;
  dtype: "F32" | "F16";
  /** A PEFT LoRA adapter folder merged into --model first. */
  adapter?: string;
  backend: string;
}

export function runExport(opts: ExportOptions): void {
  const t0 = performance.now();
  checkOutputFile("--gguf", opts.gguf);
  checkTokenizerFitsModel(opts.model, readConfig(opts.model).vocabSize);
  exportGguf(opts.model, opts.gguf, { dtype: opts.dtype, adapter: opts.adapter, backend: opts.backend });
  const mb = statSync(opts.gguf).size / 1e6;
  console.error(
    `exported ${opts.model}${opts.adapter ? ` + ${opts.adapter}` : ""} as GGUF (${opts.dtype}, ${mb.toFixed(1)} MB) in ${((performance.now() - t0) / 1000).toFixed(1)} s → ${opts.gguf}`,
  );
}
