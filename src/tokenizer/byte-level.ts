// A minimal GPT-2-style byte-level BPE tokenizer, built in code, for tiny test and demo models that must be small
// enough to commit: 256 byte tokens (id = byte value, spelled in GPT-2's byte-to-unicode alphabet), optional merges,
// ChatML special tokens and a ChatML chat template. The files follow the layout Hugging Face writes (every key of a
// Qwen2 tokenizer.json) and load in `Tokenizer.fromDir`; loading them in the Python libraries is not tested here.
// It is not a BPE trainer: merges are given, not learned; and it is no substitute for a real model's tokenizer.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../util/atomic.js";

export interface ByteLevelOptions {
  /**
   * Merges in rank order, each a pair of RAW text pieces (e.g. `[" ", "w"]`, `["he", "llo"]`), not GPT-2's
   * byte-to-unicode spelling (`"Ġw"`). Each piece must be a byte or the result of an earlier merge.
   */
  merges?: [string, string][];
  /** Added special tokens, ids after the merges. Default `<|endoftext|>`, `<|im_start|>`, `<|im_end|>`. */
  specialTokens?: string[];
}

export const DEFAULT_SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"];

/** ChatML: every turn is `<|im_start|>{role}\n{content}<|im_end|>\n`; the generation prompt `<|im_start|>assistant\n`. */
export const CHATML_TEMPLATE =
  "{%- for message in messages %}" +
  "{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}" +
  "{%- endfor %}" +
  "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}";

/** GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves, the other 68 map to U+0100 onwards. */
export const BYTE_TO_UNICODE: readonly string[] = (() => {
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const table: string[] = [];
  let next = 256;
  for (let b = 0; b < 256; b++) table.push(String.fromCodePoint(printable(b) ? b : next++));
  return table;
})();

/** Spells text's UTF-8 bytes in the byte-to-unicode alphabet: " world" → "Ġworld". */
export function toByteLevel(text: string): string {
  return Array.from(Buffer.from(text, "utf8"), (b) => BYTE_TO_UNICODE[b]).join("");
}

function buildVocab(merges: [string, string][]): { vocab: Record<string, number>; pairs: [string, string][] } {
  const vocab: Record<string, number> = {};
  BYTE_TO_UNICODE.forEach((ch, b) => (vocab[ch] = b));
  let size = 256;
  const pairs = merges.map(([a, b], i): [string, string] => {
    const [la, lb] = [toByteLevel(a), toByteLevel(b)];
    for (const [raw, piece] of [
      [a, la],
      [b, lb],
    ]) {
      if (!(piece in vocab)) {
        throw new Error(
          `byte-level tokenizer: merge ${i} ${JSON.stringify([a, b])}: ${JSON.stringify(raw)} is neither a byte nor an earlier merge`,
        );
      }
    }
    if (!(la + lb in vocab)) vocab[la + lb] = size++;
    return [la, lb];
  });
  return { vocab, pairs };
}

/** Builds the `tokenizer.json` and `tokenizer_config.json` objects of a byte-level BPE tokenizer with ChatML. */
export function makeByteLevelTokenizer(opts: ByteLevelOptions = {}): {
  tokenizerJson: object;
  tokenizerConfig: object;
} {
  const specials = opts.specialTokens ?? DEFAULT_SPECIAL_TOKENS;
  const { vocab, pairs } = buildVocab(opts.merges ?? []);
  const size = Object.keys(vocab).length;
  const added = specials.map((content, i) => {
    if (content in vocab || specials.indexOf(content) !== i) {
      throw new Error(`byte-level tokenizer: special token ${JSON.stringify(content)} is already in the vocabulary`);
    }
    return {
      id: size + i,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    };
  });
  const byteLevel = { type: "ByteLevel", add_prefix_space: false, trim_offsets: false, use_regex: true };
  const tokenizerJson = {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: { ...byteLevel, use_regex: false },
    decoder: byteLevel,
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: pairs,
    },
  };
  const has = (t: string) => (specials.includes(t) ? t : null);
  const tokenizerConfig = {
    tokenizer_class: "PreTrainedTokenizerFast",
    add_bos_token: false,
    add_prefix_space: false,
    clean_up_tokenization_spaces: false,
    bos_token: null,
    eos_token: has("<|im_end|>"),
    pad_token: has("<|endoftext|>"),
    unk_token: null,
    chat_template: CHATML_TEMPLATE,
  };
  return { tokenizerJson, tokenizerConfig };
}

/** Writes `tokenizer.json` and `tokenizer_config.json` into dir (created if missing), each file atomically. */
export function writeByteLevelTokenizer(dir: string, opts: ByteLevelOptions = {}): void {
  const { tokenizerJson, tokenizerConfig } = makeByteLevelTokenizer(opts);
  mkdirSync(dir, { recursive: true });
  writeFileAtomic(join(dir, "tokenizer.json"), `${JSON.stringify(tokenizerJson, null, 2)}\n`);
  writeFileAtomic(join(dir, "tokenizer_config.json"), `${JSON.stringify(tokenizerConfig, null, 2)}\n`);
}
