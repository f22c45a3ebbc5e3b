// `sso rm score`: one reward per JSONL line ({"prompt" | "messages", "response"}, optional "id"), written in input
// order as {line, id?, reward}. Resumable as `sso generate` is (src/sample/generate-file.ts, whose helpers this
// reuses): lines are appended and fsynced chunk by chunk, OUT.args.json records the model, input and backend, and a
// rerun keeps the complete lines, drops a torn last one and scores only the rest.
import { createHash } from "node:crypto";
import { closeSync, fsyncSync, openSync, readFileSync, writeSync } from "node:fs";
import { z } from "zod";
import { policyHash } from "../model/hash.js";
import { openTokenizer } from "../model/open.js";
import { argsPath, checkOutputArgs, resumeOutput } from "../sample/generate-file.js";
import { lineMessages, PromptOrMessages } from "../tokenizer/chat-line.js";
import { writeFileAtomic } from "../util/atomic.js";
import { readJsonl } from "../util/jsonl.js";
import { checkOutputFile } from "../util/output-path.js";
import { progress } from "../util/progress.js";
import { checkRewardFolder, loadRewardModel, rewardIds, rewardPosition, rewards } from "./model.js";

const RewardLine = z
  .object({ id: z.union([z.string(), z.number()]).optional(), ...PromptOrMessages, response: z.string() })
  .transform((v, ctx) => {
    const m = lineMessages(v);
    if ("problem" in m) {
      ctx.addIssue({ code: "custom", message: m.problem, path: m.path });
      return z.NEVER;
    }
    return { id: v.id, messages: m, response: v.response };
  });

export interface RewardScoreOptions {
  model: string;
  data: string;
  out: string;
  backend: string;
  batchTokens: number;
}

/** Lines scored per appended chunk. */
const CHUNK = 64;

/** Scores (or resumes scoring) every line of opts.data into opts.out. */
export function scoreRewardFile(opts: RewardScoreOptions): void {
  checkRewardFolder(opts.model);
  const lines = readJsonl(opts.data, RewardLine);
  checkOutputFile("--out", opts.out, { append: true });
  const tok = openTokenizer(opts.model),
    model = loadRewardModel(opts.model, opts.backend);
  const position = rewardPosition(model.config, `${opts.model}/config.json`);
  const seqs = lines.map(({ line, value }) => {
    try {
      return rewardIds(tok, value.messages, value.response, position);
    } catch (e) {
      throw new Error(`${opts.data}:${line}: ${(e as Error).message}`);
    }
  });
  // Version 2: rewards read where the folder's sso_reward_position says (model.ts); a version-1 OUT is not resumed.
  const fingerprint = {
    version: 2,
    reward_position: position,
    model_hash: policyHash(opts.model),
    data_sha256: createHash("sha256").update(readFileSync(opts.data)).digest("hex"),
    backend: opts.backend,
  };
  checkOutputArgs(opts.out, fingerprint);
  const done = resumeOutput(opts.out, "sso rm score");
  if (done > lines.length) throw new Error(`${opts.out}: has ${done} lines but ${opts.data} only ${lines.length}`);
  if (done > 0) console.error(`resuming: ${done} of ${lines.length} lines already in ${opts.out}`);
  if (done === 0) writeFileAtomic(argsPath(opts.out), `${JSON.stringify(fingerprint, null, 2)}\n`);
  const fd = openSync(opts.out, "a"),
    bar = progress("rm score", lines.length - done, "lines"),
    t0 = performance.now();
  try {
    for (let i = done; i < lines.length; i += CHUNK) {
      const r = rewards(model, seqs.slice(i, i + CHUNK), opts.batchTokens);
      const text = Array.from(r, (reward, k) => {
        const { line, value } = lines[i + k];
        return `${JSON.stringify({ line, ...(value.id !== undefined && { id: value.id }), reward })}\n`;
      }).join("");
      writeSync(fd, text);
      fsyncSync(fd);
      bar.tick(r.length);
    }
  } finally {
    bar.stop();
    closeSync(fd);
  }
  console.error(
    `scored ${lines.length - done} lines in ${((performance.now() - t0) / 1000).toFixed(1)} s → ${opts.out}`,
  );
}
