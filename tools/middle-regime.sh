#!/bin/bash
# Issue 20's pre-registered middle-regime experiment (docs/RESULTS.md, "protocol"), end to end and resumable: every
# step skips what an earlier run finished, so rerunning the same command continues where it stopped.
#   1. the demo-model variants (12k, 16k, 20k, 24k examples × 2 epochs);
#   2. the x+ − plain gap of each on the whole held-out pool (and of the shipped model), and the pick by the
#      protocol's rule;
#   3. sso demo on the picked model: --full methods + sso-v2, whole pool, seeds 1–5, demo defaults;
#   4. the weak reference model (8k × 1) and its gap, for the table only (it is not a candidate).
# On a 2-core machine the tiny demo model runs faster as two single-threaded jobs than as one two-threaded job, so
# the builds run in LANES parallel lanes of one thread each, and the seeds each in its own single-threaded process
# (results do not depend on the thread count).
# Run from the repository root after `npx tsc -p tsconfig.json`:
#   nohup tools/middle-regime.sh > experiments/middle-regime.log 2>&1 &
# EXP (default: experiments, gitignored) holds the variants, gaps.json and the demo run.
set -euo pipefail
EXP=${EXP:-experiments}
LANES=${LANES:-2}
V="$EXP/variants"
mkdir -p "$V"
stamp() { date -u +%FT%TZ; }
export OMP_NUM_THREADS=$(( $(nproc) / LANES > 0 ? $(nproc) / LANES : 1 ))

build() { # N EPOCHS
  local out="$V/demo-$1-e$2" start
  [ -f "$out/model.safetensors" ] && return 0
  echo "$(stamp) build $out"
  start=$(date +%s)
  node dist/tools/make-demo-model.js --examples "$1" --epochs "$2" --out "$out" > "$out.log" 2>&1
  echo "$(stamp) built $out in $(( $(date +%s) - start )) s"
}

# 1. Candidates, the largest first, spread over the lanes (the builds are independent).
specs=(24000:2 20000:2 16000:2 12000:2)
for lane in $(seq 0 $((LANES - 1))); do
  ( for i in "${!specs[@]}"; do
      (( i % LANES == lane )) || continue
      s=${specs[$i]}; build "${s%:*}" "${s#*:}"
    done ) &
done
wait

# 2. Gaps and the pick.
candidates="$V/demo-12000-e2,$V/demo-16000-e2,$V/demo-20000-e2,$V/demo-24000-e2"
echo "$(stamp) gaps"
OMP_NUM_THREADS=$(nproc) node dist/tools/principle-gap.js --out "$EXP/gaps.json" --candidates "$candidates" \
  "$V/demo-12000-e2" "$V/demo-16000-e2" "$V/demo-20000-e2" "$V/demo-24000-e2" models/sso-demo \
  | tee "$EXP/gaps.md"
picked=$(tail -1 "$EXP/gaps.md" | sed 's/^picked //')
echo "$(stamp) picked $picked; the comparison starts"

# 3. The comparison: each seed is its own OUT/seed-S and its own single-threaded process, all at once (on 2 cores
#    five such processes share the CPU evenly and finish together, where lanes of whole seeds would leave a core
#    idle at the end); then one run over all seeds reuses the finished seeds and writes the summary.
demo=(node dist/src/cli/main.js demo --model "$picked" --out "$EXP/middle-regime" --eval-pool
  --methods sso,pbaa,sso-no-w,sso-no-g,sso-backdoor,sso-dpo,sso-v2)
seeds=(1 2 3 4 5)
start=$(date +%s)
for seed in "${seeds[@]}"; do
  OMP_NUM_THREADS=1 "${demo[@]}" --seeds "$seed" > "$EXP/middle-regime-seed$seed.log" 2>&1 &
done
wait
OMP_NUM_THREADS=$(nproc) "${demo[@]}" --seeds "$(IFS=,; echo "${seeds[*]}")"
echo "$(stamp) comparison done in $(( $(date +%s) - start )) s (this session)"

# 4. The weak reference, for the gap table only.
build 8000 1
OMP_NUM_THREADS=$(nproc) node dist/tools/principle-gap.js --out "$EXP/gaps.json" --candidates "$candidates" \
  "$V/demo-8000-e1" "$V/demo-12000-e2" "$V/demo-16000-e2" "$V/demo-20000-e2" "$V/demo-24000-e2" models/sso-demo \
  | tee "$EXP/gaps.md"
