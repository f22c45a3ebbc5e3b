#!/bin/bash
# Issue 20's pre-registered middle-regime experiment (docs/RESULTS.md, "protocol"), end to end and resumable: every
# step skips what an earlier run finished, so rerunning the same command continues where it stopped.
#   1. the demo-model variants (12k, 16k, 20k, 24k examples × 2 epochs) and the weak reference (8k × 1);
#   2. the x+ − plain gap of each on the whole held-out pool, and the pick by the protocol's rule;
#   3. sso demo on the picked model: --full methods + sso-v2, whole pool, seeds 1–5, demo defaults.
# Run from the repository root after `npx tsc -p tsconfig.json`:
#   nohup tools/middle-regime.sh > experiments/middle-regime.log 2>&1 &
# EXP (default: experiments, gitignored) holds the variants, gaps.json and the demo run.
set -euo pipefail
EXP=${EXP:-experiments}
mkdir -p "$EXP/variants"
stamp() { date -u +%FT%TZ; }

for spec in 12000:2 16000:2 20000:2 24000:2 8000:1; do
  n=${spec%:*} e=${spec#*:}
  out="$EXP/variants/demo-$n-e$e"
  [ -f "$out/model.safetensors" ] && continue
  echo "$(stamp) build $out"
  start=$(date +%s)
  node dist/tools/make-demo-model.js --examples "$n" --epochs "$e" --out "$out" > "$out.log" 2>&1
  echo "$(stamp) built $out in $(( $(date +%s) - start )) s"
done

V="$EXP/variants"
candidates="$V/demo-12000-e2,$V/demo-16000-e2,$V/demo-20000-e2,$V/demo-24000-e2"
echo "$(stamp) gaps"
node dist/tools/principle-gap.js --out "$EXP/gaps.json" --candidates "$candidates" \
  "$V/demo-8000-e1" "$V/demo-12000-e2" "$V/demo-16000-e2" "$V/demo-20000-e2" "$V/demo-24000-e2" models/sso-demo \
  | tee "$EXP/gaps.md"
picked=$(tail -1 "$EXP/gaps.md" | sed 's/^picked //')
echo "$(stamp) picked $picked; the comparison starts"

start=$(date +%s)
node dist/src/cli/main.js demo --model "$picked" --out "$EXP/middle-regime" --eval-pool --seeds 1,2,3,4,5 \
  --methods sso,pbaa,sso-no-w,sso-no-g,sso-backdoor,sso-dpo,sso-v2
echo "$(stamp) comparison done in $(( $(date +%s) - start )) s (this session)"
