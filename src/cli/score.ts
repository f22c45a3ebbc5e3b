// `sso score --model DIR --data IN.jsonl --out OUT.jsonl`: flags in, the library's scoreFile
// (src/model/score-file.ts: input formats, validation, atomic output).
import { type ScoreFileOptions, scoreFile } from "../model/score-file.js";

export function runScore(opts: ScoreFileOptions): void {
  scoreFile(opts);
}
