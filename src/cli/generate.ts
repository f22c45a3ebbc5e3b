// `sso generate --model DIR --data IN.jsonl --out OUT.jsonl`: flags in, the library's generateFile
// (src/sample/generate-file.ts: per-line overrides, resumable in-order output, the arguments fingerprint).
import { type GenerateFileOptions, generateFile } from "../sample/generate-file.js";

export function runGenerate(opts: GenerateFileOptions): void {
  generateFile(opts);
}
