// The evaluation runs behind `sso eval pairwise | grade | math`: check every input and output path first, get the
// answers (files, or a local model's greedy answers), judge or grade them, write the JSON report (and the HTML
// side-by-side page) atomically, and return the summary for the command to print. The judge is an
// OpenAI-compatible server (`openai`, API key from an environment variable) or, for pairwise, the principle
// world's checkers (`world`). Judgments go through the cache file (default: the report's path + .judgments.jsonl);
// unparsed ones in it are asked again unless --keep-unparsed. A pairwise or grade run in which the judge gave no
// usable verdict at all writes its report (the replies show why) and then fails with one line.
import { basename } from "node:path";
import { z } from "zod";
import { openModel } from "../model/open.js";
import { writeFileAtomic } from "../util/atomic.js";
import { readJsonl } from "../util/jsonl.js";
import { checkOutputFile } from "../util/output-path.js";
import { progress } from "../util/progress.js";
import { type AnswerRow, generateAnswers, pairUp, readAnswers } from "./answers.js";
import { type ChatJudge, judgeApiKey, openAiChat } from "./client.js";
import {
  answerTurns,
  type GradeSummary,
  gradeAnswers,
  readAnswerTurns,
  readQuestions,
  summarizeGrades,
} from "./grade.js";
import { JudgmentCache } from "./judge.js";
import { type AnswerFormat, type MathSummary, mathAccuracy, readMathData } from "./math.js";
import {
  judgePairs,
  llmPairJudge,
  type PairJudge,
  type PairOutcome,
  type PairwiseSummary,
  summarizePairs,
} from "./pairwise.js";
import { pairwiseHtml } from "./report.js";
import { worldPairJudge } from "./world-judge.js";

export interface JudgeFlags {
  judge: string;
  judgeUrl?: string;
  judgeModel?: string;
  /** The environment variable holding the API key (default OPENAI_API_KEY; optional for a judge on 127.0.0.1). */
  judgeKeyEnv?: string;
  /** Seconds per judge request. */
  timeout?: number;
  /** Token limit of a judge's reply. */
  judgeMaxTokens?: number;
  cache?: string;
  /** Answer unparsed judgments from the cache instead of asking them again. */
  keepUnparsed?: boolean;
  concurrency: number;
}

export interface ModelFlags {
  maxNewTokens: number;
  batch: number;
  backend: string;
  /** A PEFT LoRA adapter folder applied to --model (not to --baseline-model). */
  adapter?: string;
}

/** The chat judge the flags name; a missing URL, model name or API key is a one-line error. */
export function chatJudge(f: JudgeFlags): ChatJudge {
  if (f.judge !== "openai")
    throw new Error(
      `--judge must be openai${f.judge === "world" ? " here (world judges pairs only)" : ""}, got "${f.judge}"`,
    );
  if (f.judgeUrl === undefined || f.judgeModel === undefined)
    throw new Error("--judge openai needs --judge-url and --judge-model");
  return openAiChat({
    baseUrl: f.judgeUrl,
    model: f.judgeModel,
    apiKey: judgeApiKey(f.judgeUrl, f.judgeKeyEnv),
    ...(f.timeout === undefined ? {} : { timeoutMs: f.timeout * 1000 }),
    ...(f.judgeMaxTokens === undefined ? {} : { maxTokens: f.judgeMaxTokens }),
  });
}

const load = (dir: string, backend: string, adapter?: string) => openModel(dir, { backend, adapter, keep16: true });

const PromptLine = z
  .object({ prompt: z.string().min(1).optional(), instruction: z.string().min(1).optional() })
  .refine((v) => (v.prompt ?? v.instruction) !== undefined, 'needs "prompt" or "instruction"')
  .transform((v) => (v.prompt ?? v.instruction)!);

export interface PairwiseRunOptions extends JudgeFlags, ModelFlags {
  /** The model's answers (file) or the model (folder) answering the baseline's instructions or --prompts. */
  answers?: string;
  model?: string;
  baseline?: string;
  baselineModel?: string;
  prompts?: string;
  out: string;
  html?: string;
  /** Bootstrap seed (and the side-by-side sample's). */
  seed: number;
  /** Prompts shown side by side in the HTML page. */
  sideBySide: number;
}

export interface PairwiseRun {
  names: { model: string; baseline: string; judge: string };
  summary: PairwiseSummary;
  outcomes: PairOutcome[];
  /** Judge requests answered from the cache, and sent (of which `reasked` were unparsed in the cache). */
  cached: number;
  asked: number;
  reasked: number;
}

/** Opens the judgment cache the flags name. */
const openCache = (path: string | undefined, f: JudgeFlags) =>
  new JudgmentCache(path, { reaskUnparsed: !f.keepUnparsed });

/** The one-line failure of a run in which the judge gave no usable verdict (after the report is written). */
function nothingJudged(command: string, n: number, what: string, f: JudgeFlags & { out: string }): Error {
  const again = f.keepUnparsed ? "rerun without --keep-unparsed to ask again" : "a rerun asks them again";
  return new Error(
    `${command}: the judge's reply could not be parsed for any of the ${n} ${what} (its replies are in ${f.out}; ${again})`,
  );
}

export async function runPairwise(o: PairwiseRunOptions): Promise<PairwiseRun> {
  if ((o.answers === undefined) === (o.model === undefined))
    throw new Error("eval pairwise: give exactly one of --answers FILE or --model DIR");
  if ((o.baseline === undefined) === (o.baselineModel === undefined))
    throw new Error("eval pairwise: give exactly one of --baseline FILE or --baseline-model DIR");
  if (o.model !== undefined && o.baselineModel !== undefined && o.prompts === undefined)
    throw new Error("eval pairwise: --model with --baseline-model needs --prompts FILE (the instructions to answer)");
  const cache = openCache(o.judge === "world" ? undefined : (o.cache ?? `${o.out}.judgments.jsonl`), o);
  const judge: PairJudge = o.judge === "world" ? worldPairJudge : llmPairJudge(chatJudge(o), cache);
  checkOutputFile("--out", o.out);
  if (o.html !== undefined) checkOutputFile("--html", o.html);
  if (cache.path !== undefined) checkOutputFile("--cache", cache.path, { append: true });
  let modelRows = o.answers !== undefined ? readAnswers(o.answers) : undefined;
  let baseRows = o.baseline !== undefined ? readAnswers(o.baseline) : undefined;
  const prompts = o.prompts !== undefined ? readJsonl(o.prompts, PromptLine).map((l) => l.value) : undefined;
  if (o.adapter !== undefined && o.model === undefined)
    throw new Error("eval pairwise: --adapter applies to --model DIR");
  const generate = (dir: string, instructions: string[], adapter?: string): AnswerRow[] => {
    const { model, tok } = load(dir, o.backend, adapter);
    const bar = progress(`answers ${basename(dir)}`, instructions.length, "answers");
    try {
      return generateAnswers(model, tok, instructions, basename(dir), {
        maxNewTokens: o.maxNewTokens,
        batch: o.batch,
        onAnswer: () => bar.tick(1),
      });
    } finally {
      bar.stop();
    }
  };
  if (modelRows === undefined)
    modelRows = generate(o.model!, prompts ?? baseRows!.map((r) => r.instruction), o.adapter);
  if (baseRows === undefined) baseRows = generate(o.baselineModel!, prompts ?? modelRows.map((r) => r.instruction));
  const items = pairUp(modelRows, baseRows);
  const names = {
    model: modelRows[0]?.generator ?? basename(o.answers ?? o.model!),
    baseline: baseRows[0]?.generator ?? basename(o.baseline ?? o.baselineModel!),
    judge: judge.id,
  };
  const bar = progress("judge", items.length, "items");
  let outcomes: PairOutcome[];
  try {
    outcomes = await judgePairs(items, judge, { concurrency: o.concurrency, onItem: () => bar.tick(1) });
  } finally {
    bar.stop();
  }
  const summary = summarizePairs(outcomes, { seed: o.seed });
  writeFileAtomic(o.out, `${JSON.stringify({ mode: "pairwise", ...names, summary, outcomes }, null, 2)}\n`);
  if (o.html !== undefined) writeFileAtomic(o.html, pairwiseHtml(summary, outcomes, names, o.sideBySide, o.seed));
  if (summary.n > 0 && summary.judged === 0) throw nothingJudged("eval pairwise", summary.n, "items in both orders", o);
  return { names, summary, outcomes, cached: cache.hits, asked: cache.misses, reasked: cache.reasked };
}

export interface GradeRunOptions extends JudgeFlags, ModelFlags {
  questions: string;
  answers?: string;
  model?: string;
  out: string;
  seed: number;
}

export async function runGrade(
  o: GradeRunOptions,
): Promise<{ summary: GradeSummary; cached: number; asked: number; reasked: number }> {
  if ((o.answers === undefined) === (o.model === undefined))
    throw new Error("eval grade: give exactly one of --answers FILE or --model DIR");
  if (o.adapter !== undefined && o.model === undefined) throw new Error("eval grade: --adapter applies to --model DIR");
  const judge = chatJudge(o);
  const cache = openCache(o.cache ?? `${o.out}.judgments.jsonl`, o);
  checkOutputFile("--out", o.out);
  checkOutputFile("--cache", cache.path!, { append: true });
  const questions = readQuestions(o.questions);
  let answers: string[][];
  if (o.answers !== undefined) answers = readAnswerTurns(o.answers, questions);
  else {
    const { model, tok } = load(o.model!, o.backend, o.adapter);
    answers = answerTurns(model, tok, questions, { maxNewTokens: o.maxNewTokens, batch: o.batch });
  }
  const bar = progress(
    "grade",
    questions.reduce((a, q) => a + q.turns.length, 0),
    "turns",
  );
  let grades: Awaited<ReturnType<typeof gradeAnswers>>;
  try {
    grades = await gradeAnswers(questions, answers, judge, cache, {
      concurrency: o.concurrency,
      onGrade: () => bar.tick(1),
    });
  } finally {
    bar.stop();
  }
  const summary = summarizeGrades(grades, { seed: o.seed });
  writeFileAtomic(o.out, `${JSON.stringify({ mode: "grade", judge: judge.id, summary, grades }, null, 2)}\n`);
  if (summary.grades > 0 && summary.unparsed === summary.grades)
    throw nothingJudged("eval grade", summary.grades, "turns", o);
  return { summary, cached: cache.hits, asked: cache.misses, reasked: cache.reasked };
}

const ResponseLine = z
  .object({ output: z.string().optional(), response: z.string().optional(), text: z.string().optional() })
  .refine((v) => (v.output ?? v.response ?? v.text) !== undefined, 'needs "output", "response" or "text"')
  .transform((v) => (v.output ?? v.response ?? v.text)!);

export interface MathRunOptions extends ModelFlags {
  data: string;
  format: AnswerFormat;
  answers?: string;
  model?: string;
  out?: string;
  seed: number;
}

/** Accuracy on verifiable problems; --answers is a JSONL file whose line i answers line i of --data. */
export function runMath(o: MathRunOptions): MathSummary {
  if ((o.answers === undefined) === (o.model === undefined))
    throw new Error("eval math: give exactly one of --answers FILE or --model DIR");
  if (o.adapter !== undefined && o.model === undefined) throw new Error("eval math: --adapter applies to --model DIR");
  if (o.out !== undefined) checkOutputFile("--out", o.out);
  const items = readMathData(o.data);
  let responses: string[];
  if (o.answers !== undefined) {
    responses = readJsonl(o.answers, ResponseLine).map((l) => l.value);
    if (responses.length !== items.length)
      throw new Error(`--answers ${o.answers}: ${responses.length} answers for ${items.length} problems in ${o.data}`);
  } else {
    const { model, tok } = load(o.model!, o.backend, o.adapter);
    responses = generateAnswers(
      model,
      tok,
      items.map((it) => it.prompt),
      o.model!,
      { maxNewTokens: o.maxNewTokens, batch: o.batch },
    ).map((r) => r.output);
  }
  const { summary, results } = mathAccuracy(items, responses, o.format, o.seed);
  if (o.out !== undefined)
    writeFileAtomic(o.out, `${JSON.stringify({ mode: "math", format: o.format, summary, results }, null, 2)}\n`);
  return summary;
}
