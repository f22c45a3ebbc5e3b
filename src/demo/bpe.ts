// A byte-level BPE trainer for the demo model's tokenizer: learns merges from texts on exactly the pre-token
// boundaries that the tokenizer.json written by `makeByteLevelTokenizer` uses at run time (special tokens split out
// first, then GPT-2's regex, `use_regex: true`), so every learned merge can fire. Deterministic: the most frequent
// adjacent pair wins, ties go to the pair whose merged bytes sort first. Pair counts are updated incrementally (only
// the words containing the merged pair are revisited). Merges never split a UTF-8 character (each piece must be
// whole characters), because `makeByteLevelTokenizer` takes merges as raw text. It is not a general tokenizer
// library: no normalisers, no other pre-tokenizers, no dropout.
import { DEFAULT_SPECIAL_TOKENS } from "../tokenizer/byte-level.js";

/** The ByteLevel pre-tokenizer's regex (GPT-2), as @huggingface/tokenizers and the Rust library apply it. */
export const GPT2_PATTERN = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

const escapeRegex = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** The pre-tokens of text: pieces between special tokens (which are dropped), each split by GPT-2's regex. */
export function preTokenize(text: string, specialTokens: readonly string[] = DEFAULT_SPECIAL_TOKENS): string[] {
  const pieces = specialTokens.length === 0 ? [text] : text.split(new RegExp(specialTokens.map(escapeRegex).join("|")));
  return pieces.flatMap((p) => p.match(GPT2_PATTERN) ?? []);
}

export interface BpeOptions {
  /** Strings split out before pre-tokenizing and never merged into (default: the ChatML specials). */
  specialTokens?: readonly string[];
  /** Pairs seen fewer times than this are never merged (default 2); training may stop early. */
  minCount?: number;
}

const decoder = new TextDecoder("utf-8", { fatal: true });
/** The text of bytes that are whole UTF-8 characters, else undefined. */
function wholeText(bytes: Uint8Array): string | undefined {
  try {
    return decoder.decode(bytes);
  } catch {
    return undefined;
  }
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/**
 * Learns up to numMerges merges from texts, in rank order, as raw-text pairs for `makeByteLevelTokenizer`.
 * Symbols are ids (bytes 0–255, then one per merge); a word is a distinct pre-token with its count.
 */
export function trainBpe(texts: Iterable<string>, numMerges: number, opts: BpeOptions = {}): [string, string][] {
  const minCount = opts.minCount ?? 2;
  const wordCounts = new Map<string, number>();
  for (const text of texts)
    for (const w of preTokenize(text, opts.specialTokens)) wordCounts.set(w, (wordCounts.get(w) ?? 0) + 1);

  const symbolBytes: Uint8Array[] = Array.from({ length: 256 }, (_, b) => Uint8Array.of(b));
  const symbolText: (string | undefined)[] = symbolBytes.map(wholeText);
  const words: number[][] = [],
    freq: number[] = [];
  for (const [w, n] of wordCounts) {
    words.push(Array.from(Buffer.from(w, "utf8")));
    freq.push(n);
  }

  // pair key a·2^20 + b → count, and → the words that held it when it was counted (may go stale; rechecked).
  const key = (a: number, b: number): number => a * 1048576 + b;
  const counts = new Map<number, number>();
  const where = new Map<number, Set<number>>();
  const addPairs = (wi: number, sign: 1 | -1): void => {
    const w = words[wi];
    for (let i = 0; i + 1 < w.length; i++) {
      const k = key(w[i], w[i + 1]);
      counts.set(k, (counts.get(k) ?? 0) + sign * freq[wi]);
      if (sign > 0) {
        let s = where.get(k);
        if (!s) where.set(k, (s = new Set()));
        s.add(wi);
      }
    }
  };
  words.forEach((_, wi) => addPairs(wi, 1));

  const merges: [string, string][] = [];
  const banned = new Set<number>(); // pairs that would split a UTF-8 character
  while (merges.length < numMerges) {
    let best = -1,
      bestCount = 0;
    let bestBytes: Uint8Array | undefined;
    for (const [k, n] of counts) {
      if (n < minCount || n < bestCount || banned.has(k)) continue;
      const a = Math.floor(k / 1048576),
        b = k % 1048576;
      if (symbolText[a] === undefined || symbolText[b] === undefined) {
        banned.add(k);
        continue;
      }
      const bytes = Buffer.concat([symbolBytes[a], symbolBytes[b]]);
      if (n > bestCount || compareBytes(bytes, bestBytes!) < 0) [best, bestCount, bestBytes] = [k, n, bytes];
    }
    if (best < 0) break;
    const a = Math.floor(best / 1048576),
      b = best % 1048576,
      id = symbolBytes.length;
    symbolBytes.push(bestBytes!);
    symbolText.push(wholeText(bestBytes!));
    merges.push([symbolText[a]!, symbolText[b]!]);
    for (const wi of where.get(best)!) {
      const w = words[wi];
      addPairs(wi, -1);
      const merged: number[] = [];
      for (let i = 0; i < w.length; i++) {
        if (i + 1 < w.length && w[i] === a && w[i + 1] === b) {
          merged.push(id);
          i++;
        } else merged.push(w[i]);
      }
      words[wi] = merged;
      addPairs(wi, 1);
    }
    where.delete(best);
    counts.delete(best);
  }
  return merges;
}
