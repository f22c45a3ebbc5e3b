// The tokenizer half of a GGUF export: a byte-level BPE tokenizer.json (GPT-2, Qwen2, Llama 3 style) as llama.cpp's
// "gpt2" tokenizer metadata — tokens, token types, merges, the pre-tokenizer name, special token ids, add_bos/eos and
// the chat template — following gguf-py's SpecialVocab and convert_hf_to_gguf.py's get_vocab_base.
// Not here: SentencePiece/Unigram/WordPiece tokenizers, byte-fallback BPE (Llama 2, Mistral v0.1) and any
// pre-tokenizer without a llama.cpp twin; those are refused with an error naming the file and the key. The
// pre-tokenizer is recognised from its JSON (the converter hashes a tokenization instead).
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { readJson } from "../util/files.js";
import { bool, type GgufKv, str, u32 } from "./gguf-file.js";

type Json = Record<string, unknown>;

/** llama.cpp's token types (llama_token_type). */
export const TOKEN_TYPE = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

/** The split regexes of the pre-tokenizers llama.cpp implements, by the name it knows them under. */
const SPLIT_REGEXES: Record<string, string> = {
  qwen2:
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  "llama-bpe":
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
};

/** Special token kinds, in SpecialVocab's order, and their GGUF keys. */
const SPECIAL_KEYS: [kind: string, key: string][] = [
  ["bos", "tokenizer.ggml.bos_token_id"],
  ["eos", "tokenizer.ggml.eos_token_id"],
  ["unk", "tokenizer.ggml.unknown_token_id"],
  ["sep", "tokenizer.ggml.seperator_token_id"], // sic: the key llama.cpp reads
  ["pad", "tokenizer.ggml.padding_token_id"],
  ["cls", "tokenizer.ggml.cls_token_id"],
  ["mask", "tokenizer.ggml.mask_token_id"],
];

const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

function fail(file: string, key: string, msg: string): never {
  throw new Error(`${file}: ${key}: ${msg}`);
}

const isByteLevel = (p: unknown, useRegex: boolean): boolean =>
  isObject(p) && p.type === "ByteLevel" && p.add_prefix_space !== true && (p.use_regex ?? true) === useRegex;

/** llama.cpp's name for the pre-tokenizer: GPT-2's byte-level regex, or a Split regex followed by plain ByteLevel. */
function preTokenizerName(tj: Json, file: string): string {
  const pre = tj.pre_tokenizer;
  if (isByteLevel(pre, true)) return "gpt-2";
  if (isObject(pre) && pre.type === "Sequence" && Array.isArray(pre.pretokenizers) && pre.pretokenizers.length === 2) {
    const [split, byteLevel] = pre.pretokenizers as unknown[];
    if (
      isObject(split) &&
      split.type === "Split" &&
      split.behavior === "Isolated" &&
      split.invert !== true &&
      isByteLevel(byteLevel, false)
    ) {
      const regex = isObject(split.pattern) ? split.pattern.Regex : undefined;
      const name = Object.keys(SPLIT_REGEXES).find((n) => SPLIT_REGEXES[n] === regex);
      if (name) return name;
    }
  }
  fail(
    file,
    "pre_tokenizer",
    `not a pre-tokenizer llama.cpp implements that this exporter recognises (GPT-2 byte-level, Qwen2, Llama 3 split regex): ${JSON.stringify(pre).slice(0, 120)}`,
  );
}

/** A token written as text in tokenizer_config.json: a string or an AddedToken object. */
function tokenContent(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  if (isObject(v) && typeof v.content === "string") return v.content;
  return undefined;
}

/** convert_hf_to_gguf's does_token_look_special for added tokens not flagged special. */
const looksSpecial = (t: string): boolean =>
  ["<pad>", "<mask>", "<2mass>", "[@BOS@]"].includes(t) ||
  (t.startsWith("<|") && t.endsWith("|>")) ||
  (t.startsWith("<｜") && t.endsWith("｜>")) ||
  (t.startsWith("<unused") && t.endsWith(">"));

interface AddedToken {
  id: number;
  content: string;
  special: boolean;
}

function readTokenizerJson(dir: string): { tj: Json; file: string } {
  const file = join(dir, "tokenizer.json");
  if (!existsSync(file)) throw new Error(`${file}: file not found (a GGUF export embeds the model's tokenizer)`);
  const tj = readJson(file);
  if (!isObject(tj)) throw new Error(`${file}: expected a JSON object`);
  const model = tj.model;
  if (!isObject(model)) fail(file, "model", "missing");
  if (model.type !== "BPE")
    fail(
      file,
      "model.type",
      `${JSON.stringify(model.type)} is not supported (only byte-level BPE, GGUF tokenizer "gpt2")`,
    );
  if (model.byte_fallback === true)
    fail(file, "model.byte_fallback", "byte-fallback BPE (SentencePiece-style) is not supported (only byte-level BPE)");
  if (!isObject(tj.decoder) || tj.decoder.type !== "ByteLevel")
    fail(
      file,
      "decoder",
      `${JSON.stringify(isObject(tj.decoder) ? tj.decoder.type : tj.decoder)} is not supported (only ByteLevel)`,
    );
  const norm = tj.normalizer;
  if (norm !== null && norm !== undefined && !(isObject(norm) && norm.type === "NFC")) {
    fail(
      file,
      "normalizer",
      `${JSON.stringify(isObject(norm) ? norm.type : norm)} is not supported (only none or NFC)`,
    );
  }
  if (!isObject(model.vocab)) fail(file, "model.vocab", "expected an object of token → id");
  if (!Array.isArray(model.merges)) fail(file, "model.merges", "expected a list");
  return { tj, file };
}

/** Merges as GGUF wants them: "left right", a space inside a piece written as U+0120 (as gguf-py does). */
function mergeStrings(merges: unknown[], file: string): string[] {
  return merges.map((m, i) => {
    if (typeof m === "string") return m;
    if (Array.isArray(m) && m.length === 2 && typeof m[0] === "string" && typeof m[1] === "string") {
      return m.map((p: string) => p.replaceAll(" ", "\u0120")).join(" ");
    }
    fail(file, `model.merges[${i}]`, 'expected "a b" or ["a", "b"]');
  });
}

/** tokens and token types by id, padded to the model's vocab size with [PAD{i}] (as the converter does). */
function tokenTable(
  model: Json,
  added: AddedToken[],
  vocabSize: number,
  file: string,
): { tokens: string[]; types: Int32Array } {
  const tokens: (string | undefined)[] = new Array(vocabSize);
  const types = new Int32Array(vocabSize).fill(TOKEN_TYPE.NORMAL);
  for (const [tok, id] of Object.entries(model.vocab as Json)) {
    if (!Number.isInteger(id) || (id as number) < 0)
      fail(file, `model.vocab[${JSON.stringify(tok)}]`, `invalid id ${JSON.stringify(id)}`);
    if ((id as number) >= vocabSize)
      fail(
        file,
        "model.vocab",
        `token ${JSON.stringify(tok)} has id ${id}, outside config.json's vocab_size ${vocabSize}`,
      );
    tokens[id as number] = tok;
  }
  for (const t of added) {
    if (t.id >= vocabSize)
      fail(
        file,
        "added_tokens",
        `token ${JSON.stringify(t.content)} has id ${t.id}, outside config.json's vocab_size ${vocabSize}`,
      );
    tokens[t.id] = t.content;
    types[t.id] = t.special || looksSpecial(t.content) ? TOKEN_TYPE.CONTROL : TOKEN_TYPE.USER_DEFINED;
  }
  for (let i = 0; i < vocabSize; i++) {
    if (tokens[i] === undefined) {
      tokens[i] = `[PAD${i}]`;
      types[i] = TOKEN_TYPE.UNUSED;
    }
  }
  return { tokens: tokens as string[], types };
}

function addedTokens(tj: Json, file: string): AddedToken[] {
  const list = tj.added_tokens ?? [];
  if (!Array.isArray(list)) fail(file, "added_tokens", "expected a list");
  return list.map((t, i) => {
    if (!isObject(t) || !Number.isInteger(t.id) || (t.id as number) < 0 || typeof t.content !== "string") {
      fail(file, `added_tokens[${i}]`, "expected {id, content, special}");
    }
    return { id: t.id as number, content: t.content, special: t.special === true };
  });
}

/**
 * Special ids as SpecialVocab finds them: tokenizer_config.json's `<kind>_token` looked up among the added tokens,
 * then config.json's `<kind>_token_id` (integers only) for kinds still unset. add_bos/add_eos from the config's
 * flags, else from a TemplateProcessing post-processor that starts with the bos token.
 */
function specialKvs(dir: string, tj: Json, added: AddedToken[], vocabSize: number): GgufKv[] {
  const cfgFile = join(dir, "tokenizer_config.json");
  const cfg = existsSync(cfgFile) ? readJson(cfgFile) : {};
  if (!isObject(cfg)) throw new Error(`${cfgFile}: expected a JSON object`);
  const model = readJson(join(dir, "config.json")) as Json;
  const ids = new Map<string, number>();
  for (const [kind] of SPECIAL_KEYS) {
    const content = tokenContent(cfg[`${kind}_token`]);
    const id = content === undefined ? undefined : added.find((t) => t.content === content)?.id;
    if (id !== undefined && id < vocabSize) ids.set(kind, id);
  }
  for (const [kind] of SPECIAL_KEYS) {
    const id = model[`${kind}_token_id`];
    if (!ids.has(kind) && Number.isInteger(id) && (id as number) >= 0 && (id as number) < vocabSize)
      ids.set(kind, id as number);
  }
  const kvs: GgufKv[] = SPECIAL_KEYS.filter(([kind]) => ids.has(kind)).map(([kind, key]) => [key, u32(ids.get(kind)!)]);
  const addBos =
    typeof cfg.add_bos_token === "boolean" ? cfg.add_bos_token : templateAddsBos(tj, tokenContent(cfg.bos_token));
  if (addBos !== undefined) kvs.push(["tokenizer.ggml.add_bos_token", bool(addBos)]);
  if (typeof cfg.add_eos_token === "boolean") kvs.push(["tokenizer.ggml.add_eos_token", bool(cfg.add_eos_token)]);
  const template = chatTemplate(dir, cfg, cfgFile);
  if (template !== undefined) kvs.push(["tokenizer.chat_template", str(template)]);
  return kvs;
}

function templateAddsBos(tj: Json, bos: string | undefined): boolean | undefined {
  const pp = tj.post_processor;
  const procs = isObject(pp) ? (Array.isArray(pp.processors) ? pp.processors : [pp]) : [];
  for (const p of procs) {
    if (!isObject(p) || p.type !== "TemplateProcessing" || !Array.isArray(p.single) || p.single.length < 2) continue;
    const first = p.single[0] as Json;
    const id = isObject(first) && isObject(first.SpecialToken) ? first.SpecialToken.id : undefined;
    if (typeof id === "string") return bos === undefined || id === bos;
  }
  return undefined;
}

/** tokenizer_config.json's chat_template (a string, or the "default" of a list), else chat_template.jinja. */
function chatTemplate(dir: string, cfg: Json, cfgFile: string): string | undefined {
  const t = cfg.chat_template;
  if (typeof t === "string") return t;
  if (Array.isArray(t)) {
    const named = t.find((e) => isObject(e) && e.name === "default");
    if (isObject(named) && typeof named.template === "string") return named.template;
    fail(cfgFile, "chat_template", 'a list without a {"name": "default", "template": string} entry');
  }
  const jinja = join(dir, "chat_template.jinja");
  return existsSync(jinja) ? readFileSync(jinja, "utf8") : undefined;
}

/** The tokenizer metadata of a model folder, for a model with vocabSize embedding rows. */
export function ggufVocabKvs(dir: string, vocabSize: number): GgufKv[] {
  const { tj, file } = readTokenizerJson(dir);
  const added = addedTokens(tj, file);
  const pre = preTokenizerName(tj, file);
  const { tokens, types } = tokenTable(tj.model as Json, added, vocabSize, file);
  return [
    ["tokenizer.ggml.model", str("gpt2")],
    ["tokenizer.ggml.pre", str(pre)],
    ["tokenizer.ggml.tokens", { type: "string[]", value: tokens }],
    ["tokenizer.ggml.token_type", { type: "i32[]", value: types }],
    ["tokenizer.ggml.merges", { type: "string[]", value: mergeStrings((tj.model as Json).merges as unknown[], file) }],
    ...specialKvs(dir, tj, added, vocabSize),
  ];
}
