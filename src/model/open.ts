// The one way to open a model folder for use: its tokenizer, the check that the tokenizer's ids fit the model's
// vocabulary, the weights on a backend (16-bit matrices kept as they are with keep16, for inference), and a PEFT
// adapter on top. Every command and library function that needs a model and its tokenizer calls this, so the
// order of checks and their one-line errors are the same everywhere. Loading the tensors is folder.ts.
import type { Backend } from "../backends/backend.js";
import { getBackend } from "../backends/index.js";
import { checkTokenizerFitsModel, Tokenizer } from "../tokenizer/tokenizer.js";
import { loadModel, readConfig } from "./folder.js";
import type { Model } from "./model.js";

export interface OpenOptions {
  /** A backend or its name (`cpu` by default). */
  backend?: Backend | string;
  /** A PEFT adapter folder to attach. */
  adapter?: string;
  /** Keep BF16/F16 matrices 16-bit (inference); training loads fp32. */
  keep16?: boolean;
}

/** The folder's tokenizer, checked against its config's vocabulary, before any weights are read. */
export function openTokenizer(dir: string): Tokenizer {
  const tok = Tokenizer.fromDir(dir);
  checkTokenizerFitsModel(tok, readConfig(dir).vocabSize);
  return tok;
}

/** The model folder `dir` (and an adapter) on a backend, with its checked tokenizer. */
export function openModel(dir: string, o: OpenOptions = {}): { model: Model; tok: Tokenizer } {
  const tok = openTokenizer(dir);
  const backend = typeof o.backend === "object" ? o.backend : getBackend(o.backend ?? "cpu");
  return { model: loadModel(dir, backend, { adapter: o.adapter, keep16: o.keep16 }), tok };
}
