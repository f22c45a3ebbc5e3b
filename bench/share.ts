// Shared prompt prefixes: tokens computed and time of one SSO training pass (forward + backward of the sso preset's
// six sequences per record) and of synthesis's reference scoring (the seven pairs, forward only), shared vs unshared,
// on records shaped like real ones (system principles ~400 tokens, query ~50, responses ~200) and the 10M bench model
// with random weights. `npm run bench -- share [records]`; ends with one JSON line. Besides wall time it reports the
// process's CPU time, which a machine shared with other work disturbs less (run with OMP_NUM_THREADS=1 for that).
import { getBackend } from "../src/backends/index.js";
import { parseConfig } from "../src/model/config.js";
import { initModel } from "../src/model/folder.js";
import type { SequenceInput } from "../src/model/model.js";
import { sharePrompts } from "../src/model/share.js";
import { PRESETS, pairsNeeded } from "../src/sso/objective.js";
import { PAIR_NAMES, PAIRS, type Pair, type Variant } from "../src/sso/pairs.js";
import { Rng } from "../src/tensor/rng.js";
import { round } from "./timing.js";
import { TRAIN_CONFIGS } from "./train.js";

export const SHARE_BENCH = { system: 400, query: 50, response: 200 };

/** A record's sequences for the given pairs with random ids: x = query, x± = system + query; same y across prompts. */
function recordSeqs(rng: Rng, V: number, pairs: readonly Pair[]): SequenceInput[] {
  const ids = (n: number) => Array.from({ length: n }, () => rng.int(V));
  const query = ids(SHARE_BENCH.query);
  const prompts: Record<Variant, number[]> = {
    plain: query,
    pos: [...ids(SHARE_BENCH.system), ...query],
    neg: [...ids(SHARE_BENCH.system), ...query],
  };
  const responses = {
    chosen: ids(SHARE_BENCH.response),
    rejected: ids(SHARE_BENCH.response),
    raw: ids(SHARE_BENCH.response),
  };
  return pairs.map((p) => {
    const prompt = prompts[PAIRS[p].variant];
    return { ids: [...prompt, ...responses[PAIRS[p].response]], scoreFrom: prompt.length };
  });
}

/** Median wall and CPU (user + system) milliseconds of `runs` calls after one warm-up call. */
function timeCpu(fn: () => void, runs = 3): { wall: number; cpu: number } {
  fn();
  const wall: number[] = [],
    cpu: number[] = [];
  for (let i = 0; i < runs; i++) {
    const c0 = process.cpuUsage(),
      t0 = performance.now();
    fn();
    wall.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  const median = (x: number[]) => x.sort((a, b) => a - b)[Math.floor(x.length / 2)];
  return { wall: median(wall), cpu: median(cpu) };
}

export function benchShare(): void {
  const records = Number(process.argv[3] ?? 2);
  const config = parseConfig(TRAIN_CONFIGS["10M"]),
    be = getBackend("cpu"),
    model = initModel(config, 1, be),
    rng = new Rng(3);
  const train = Array.from({ length: records }, () =>
    recordSeqs(rng, config.vocabSize, pairsNeeded(PRESETS.sso)),
  ).flat();
  const score = Array.from({ length: records }, () => recordSeqs(rng, config.vocabSize, PAIR_NAMES)).flat();
  const tokens = (seqs: readonly SequenceInput[]) => seqs.reduce((n, q) => n + q.ids.length, 0);
  const grads = model.newGrads();
  const pass = (share: boolean) => () => {
    const { outputs, state } = model.forward(train, { forBackward: true, sharePrompts: share });
    model.backward(
      state!,
      outputs.map((o) => new Float32Array(o.tokenLogps.length).fill(-1e-3)),
      grads,
    );
  };
  const scoring = (share: boolean) => () => void model.forward(score, { sharePrompts: share });
  const rows = [
    { what: "train pass", seqs: train, unshared: timeCpu(pass(false)), shared: timeCpu(pass(true)) },
    { what: "reference scoring", seqs: score, unshared: timeCpu(scoring(false)), shared: timeCpu(scoring(true)) },
  ];
  const summary: Record<string, number> = { records };
  console.log(
    `${records} records (system ${SHARE_BENCH.system}, query ${SHARE_BENCH.query}, responses ${SHARE_BENCH.response}), 10M model, cpu backend (${be.description})`,
  );
  console.log("what              | tokens unshared → shared | wall ms unshared → shared | CPU ms unshared → shared");
  const ratio = (a: number, b: number) => `(${(b / a).toFixed(2)})`;
  for (const r of rows) {
    const tu = tokens(r.seqs),
      ts = tokens(sharePrompts(r.seqs).seqs),
      { unshared: u, shared: s } = r;
    console.log(
      `${r.what.padEnd(17)} | ${`${tu} → ${ts} ${ratio(tu, ts)}`.padEnd(24)} | ${`${Math.round(u.wall)} → ${Math.round(s.wall)} ${ratio(u.wall, s.wall)}`.padEnd(25)} | ${Math.round(u.cpu)} → ${Math.round(s.cpu)} ${ratio(u.cpu, s.cpu)}`,
    );
    const key = r.what.split(" ")[0];
    Object.assign(summary, {
      [`${key}_tokens_ratio`]: round(ts / tu, 3),
      [`${key}_wall_ratio`]: round(s.wall / u.wall, 3),
      [`${key}_cpu_ms_unshared`]: round(u.cpu, 0),
      [`${key}_cpu_ms_shared`]: round(s.cpu, 0),
      [`${key}_cpu_ratio`]: round(s.cpu / u.cpu, 3),
    });
  }
  console.log(JSON.stringify(summary));
}
