#!/bin/bash
# Issue 33's pre-registered re-alignment experiment (docs/RESULTS.md, "Issue 33: re-alignment — protocol"), end to
# end and resumable: every stage skips what an earlier run finished, so rerunning the same command continues.
#   aligned  — waits for the base (20k × 2) model, builds the aligned model (tools/make-aligned-model.ts) and
#              measures the principle gap of the base and the aligned model (tools/principle-gap.ts);
#   compare  — sso demo from the aligned model: every method, whole pool, seeds 1–5, each seed its own
#              single-threaded process, then one run over all seeds that writes the summary;
#   continue — waits for each middle-regime seed (MR/seed-S/demo.json) and continues its SSO run from iteration 3
#              for 2 more iterations (sso demo --model MR/seed-S/sso/iter-3/train/model --iterations 2);
#   tables   — the per-family read-out of the three demo runs (tools/family-table.ts).
# Stages run in that order; give one or more names to run only those (default: all).
# The demo processes load modules lazily: run this from a copy of the repository whose dist is not recompiled while
# it runs. From the repository root after `npx tsc -p tsconfig.json`:
#   setsid nohup nice -n 5 tools/realign.sh > /work/exp/realign/realign.log 2>&1 &
set -euo pipefail
cd "$(dirname "$0")/.."
EXP=${EXP:-/work/exp}
BASE=${BASE:-$EXP/variants/demo-20000-e2}
ALIGNED=${ALIGNED:-$EXP/aligned}
OUT=${OUT:-$EXP/realign}
MR=${MR:-$EXP/middle-regime}
SEEDS=(1 2 3 4 5)
stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=(aligned compare continue tables)
mkdir -p "$OUT" "$ALIGNED"
stamp() { date -u +%FT%TZ; }
methods=${METHODS:-sso,pbaa,sso-no-w,sso-no-g,sso-backdoor,sso-dpo,sso-v2}  # METHODS=sso,pbaa: deviation (c)

aligned() {
  until [ -f "$BASE/model.safetensors" ] && { [ ! -f "$BASE.log" ] || grep -q '^saved ' "$BASE.log"; }; do
    sleep 30
  done
  if ! grep -q '"stopped": "[^"]' "$ALIGNED/aligned.json" 2>/dev/null || [ ! -f "$ALIGNED/model/model.safetensors" ]; then
    echo "$(stamp) aligned model from $BASE"
    OMP_NUM_THREADS=1 node dist/tools/make-aligned-model.js --base "$BASE" --out "$ALIGNED" > "$ALIGNED.log" 2>&1
    tail -1 "$ALIGNED.log"
  fi
  # The gap is recorded, not a gate (protocol item 2): it runs beside the comparison.
  ( OMP_NUM_THREADS=1 node dist/tools/principle-gap.js --out "$OUT/gaps.json" "$BASE" "$ALIGNED/model" \
      > "$OUT/gaps.md" 2> "$OUT/gaps.log"; echo "$(stamp) gaps done" ) &
}

compare() {
  local demo=(node dist/src/cli/main.js demo --model "$ALIGNED/model" --out "$OUT/demo" --eval-pool --methods "$methods")
  local start seed pids=()
  # Protocol item 1: no round raised the validation pass rate → no aligned model, no comparison.
  if grep -q '"picked": 0,' "$ALIGNED/aligned.json"; then
    echo "$(stamp) no DPO round raised the validation pass rate: no aligned model, so no comparison ($ALIGNED/aligned.json)"
    return 0
  fi
  start=$(date +%s)
  echo "$(stamp) comparison starts"
  for seed in "${SEEDS[@]}"; do
    OMP_NUM_THREADS=1 "${demo[@]}" --seeds "$seed" > "$OUT/demo-seed$seed.log" 2>&1 &
    pids+=($!)
  done
  wait "${pids[@]}"
  OMP_NUM_THREADS=1 "${demo[@]}" --seeds "$(IFS=,; echo "${SEEDS[*]}")" > "$OUT/demo-all.log" 2>&1
  echo "$(stamp) comparison done in $(( $(date +%s) - start )) s (this session)"
}

# One seed's continuation, once the middle-regime seed has finished (its demo.json is written last).
continue_seed() {
  local seed=$1
  until [ -f "$MR/seed-$seed/demo.json" ]; do sleep 60; done
  if [ ! -f "$OUT/continue/seed-$seed/demo.json" ]; then
    OMP_NUM_THREADS=1 node dist/src/cli/main.js demo --model "$MR/seed-$seed/sso/iter-3/train/model" --seed "$seed" \
      --methods sso --iterations 2 --eval-pool --out "$OUT/continue/seed-$seed" > "$OUT/continue-seed$seed.log" 2>&1
  fi
}

continuation() {
  local seed pids=()
  echo "$(stamp) continuation waits for $MR"
  for seed in "${SEEDS[@]}"; do
    continue_seed "$seed" &
    pids+=($!)
  done
  wait "${pids[@]}"
  echo "$(stamp) continuation done"
}

tables() {
  node dist/tools/family-table.js --out "$OUT/families-realign.md" "$OUT/demo"
  # Each seed's own demo.json (the lead's all-seeds summary may not exist yet).
  node dist/tools/family-table.js --out "$OUT/families-middle-regime.md" "$MR"/seed-*
  node dist/tools/family-table.js --out "$OUT/families-continue.md" "$OUT"/continue/seed-*
  echo "$(stamp) tables in $OUT/families-*.md"
}

for s in "${stages[@]}"; do
  case "$s" in
    aligned) aligned ;;
    compare) compare ;;
    continue) continuation ;;
    tables) wait; tables ;;
    *) echo "realign.sh: unknown stage $s (aligned, compare, continue, tables)" >&2; exit 2 ;;
  esac
done
wait
